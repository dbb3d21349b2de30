/** The provider's price per image, on its own so the CLI's `--help` can quote it without loading the contract's schemas. */
export const PRICE_PER_IMAGE_USD = 0.04;
