/**
 * The Admin GraphQL documents this destination sends (API version pinned in settings). Media reads
 * select what identifies an image we uploaded: the CDN URL keeps the uploaded file name (see adapter).
 */

const MEDIA_FIELDS = `
  id
  alt
  status
  mediaContentType
  ... on MediaImage {
    image { url }
    originalSource { url }
  }`;

/** Media read per page: 50 nodes keeps a page well under the single-query cost ceiling of 1000. */
export const MEDIA_PAGE = 50;

export const SHOP_NAME = `query ShopName {
  shop { name myshopifyDomain }
}`;

/** Kept apart from the media read: a connection nested in a connection multiplies the requested cost. */
export const FIND_VARIANT_BY_SKU = `query FindVariantBySku($query: String!) {
  productVariants(first: 5, query: $query) {
    nodes {
      id
      sku
      product { id title }
    }
  }
}`;

export const PRODUCT_MEDIA_PAGE = `query ProductMediaPage($id: ID!, $mediaFirst: Int!, $after: String) {
  product(id: $id) {
    id
    media(first: $mediaFirst, after: $after) {
      nodes {${MEDIA_FIELDS}
      }
      pageInfo { hasNextPage endCursor }
    }
  }
}`;

export const STAGED_UPLOADS_CREATE = `mutation StagedUploadsCreate($input: [StagedUploadInput!]!) {
  stagedUploadsCreate(input: $input) {
    stagedTargets {
      url
      resourceUrl
      parameters { name value }
    }
    userErrors { field message }
  }
}`;

export const PRODUCT_UPDATE_MEDIA = `mutation ProductAttachMedia($product: ProductUpdateInput!, $media: [CreateMediaInput!]) {
  productUpdate(product: $product, media: $media) {
    product {
      id
      media(last: 5) {
        nodes {${MEDIA_FIELDS}
        }
      }
    }
    userErrors { field message }
  }
}`;

export interface MediaNode {
  id: string;
  alt: string | null;
  status: 'UPLOADED' | 'PROCESSING' | 'READY' | 'FAILED';
  mediaContentType: string;
  image?: { url: string } | null;
  originalSource?: { url: string | null } | null;
}

export interface MediaConnection {
  nodes: MediaNode[];
  pageInfo?: { hasNextPage: boolean; endCursor: string | null };
}

export interface FindVariantData {
  productVariants: { nodes: { id: string; sku: string | null; product: { id: string; title: string } }[] };
}

export interface ProductMediaData {
  product: { id: string; media: MediaConnection } | null;
}

export interface UserError {
  field: string[] | null;
  message: string;
}

export interface StagedUploadsData {
  stagedUploadsCreate: {
    stagedTargets: { url: string; resourceUrl: string; parameters: { name: string; value: string }[] }[] | null;
    userErrors: UserError[];
  } | null;
}

export interface ProductUpdateData {
  productUpdate: { product: { id: string; media: MediaConnection } | null; userErrors: UserError[] } | null;
}

export interface ShopData {
  shop: { name: string; myshopifyDomain: string };
}
