/**
 * The sample catalog `npm start` imports: two dozen products across beauty, skincare, jewelry and
 * packaged goods, with everything the default plan needs (brand, name, category, colour, material,
 * the label text to print, its locale, a lifestyle scene, and a packshot URL).
 *
 * The packshots and the scene reference are images the project draws itself (makeTestImage: a studio
 * backdrop with the pack, its current label reading the brand), written once to `<dataDir>/packshots/`
 * and served by the stack's file server. They are never redrawn once on disk, so their bytes (and the
 * step fingerprints computed from them) stay the same from one run to the next.
 *
 * Products are upserted with the project's attribute fingerprint (src/catalog/fingerprint.ts), so a
 * second import of the same data changes nothing and a `changed` refresh selects nothing.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Kysely } from 'kysely';
import sharp from 'sharp';
import { productFingerprint } from '../catalog/fingerprint';
import { upsertCatalog } from '../db/repositories/catalogs';
import { DESTINATION_KINDS } from '../publish/kinds';
import { validateCatalogSettings } from '../publish/settings';
import type { DestinationSettings } from '../shared/publishSettings';
import { productFingerprints, upsertProducts } from '../db/repositories/products';
import type { Database } from '../db/schema';
import { makeTestImage } from '../dev/testImages';

export const SAMPLE_CATALOG_ID = 'sample';
export const SAMPLE_CATALOG_NAME = 'Sample catalog (beauty, skincare, jewelry, packaged goods)';

export interface SampleProduct {
  sku: string;
  name: string;
  brand: string;
  category: string;
  colour: string;
  material: string;
  labelText: string;
  locale: string;
  scene: string;
  group: 'beauty' | 'skincare' | 'jewelry' | 'packaged goods';
}

export const SAMPLE_PRODUCTS: readonly SampleProduct[] = [
  // Beauty
  { sku: 'BEA-LIP-001', group: 'beauty', name: 'Velvet Matte Lipstick Rosewood', brand: 'Maison Lumière', category: 'lipstick', colour: 'rosewood pink', material: 'brushed gold metal case', labelText: 'Velvet Matte · Rosewood 214 · 3.5 g', locale: 'en-GB', scene: 'a marble vanity beside a round mirror' },
  { sku: 'BEA-MAS-002', group: 'beauty', name: 'Volume Noir Lengthening Mascara', brand: 'Noor Cosmetics', category: 'mascara tube', colour: 'black', material: 'glossy lacquered plastic', labelText: 'Volume Noir Mascara · 10 ml', locale: 'en-US', scene: 'a bathroom shelf in soft morning light' },
  { sku: 'BEA-FDN-003', group: 'beauty', name: 'Seconde Peau Foundation 3N', brand: 'Maison Lumière', category: 'foundation bottle with a pump', colour: 'warm beige', material: 'frosted glass', labelText: 'Fond de teint Seconde Peau · 3N · 30 ml', locale: 'fr-FR', scene: 'a Parisian dressing table with fresh peonies' },
  { sku: 'BEA-PAL-004', group: 'beauty', name: 'Desert Dusk Eyeshadow Palette', brand: 'Noor Cosmetics', category: 'eyeshadow palette', colour: 'terracotta and bronze', material: 'recycled cardboard', labelText: 'Desert Dusk · 12 shades · 12 x 1.2 g', locale: 'en-US', scene: 'a sunlit desk with a linen cloth and dried grasses' },
  { sku: 'BEA-NAI-005', group: 'beauty', name: 'Gel Finish Nail Polish Ciliegia', brand: 'Lacca', category: 'nail polish bottle', colour: 'cherry red', material: 'glass with a black cap', labelText: 'Smalto Effetto Gel · Ciliegia · 11 ml', locale: 'it-IT', scene: 'a terrazzo side table next to a coffee cup' },
  { sku: 'BEA-PER-006', group: 'beauty', name: 'Figue Blanche Eau de Parfum', brand: 'Atelier Solène', category: 'perfume bottle', colour: 'pale green', material: 'heavy faceted glass', labelText: 'Figue Blanche · Eau de Parfum · 50 ml', locale: 'fr-FR', scene: 'a stone windowsill with fig leaves' },
  // Skincare
  { sku: 'SKN-SER-101', group: 'skincare', name: 'Hyaluronic Hydrating Serum', brand: 'Dermaleaf', category: 'dropper serum bottle', colour: 'amber', material: 'amber glass', labelText: 'Hydrating Serum · Hyaluronic Acid 2% · 30 ml', locale: 'en-GB', scene: 'a white bathroom counter with a folded towel' },
  { sku: 'SKN-MOI-102', group: 'skincare', name: 'Barrier Repair Moisturiser', brand: 'Dermaleaf', category: 'face cream jar', colour: 'white', material: 'frosted glass', labelText: 'Barrier Repair Cream · Ceramides · 50 ml', locale: 'en-GB', scene: 'a bedside table with a reading lamp' },
  { sku: 'SKN-CLN-103', group: 'skincare', name: 'Gentle Foaming Cleanser', brand: 'Kiri Skin', category: 'pump bottle', colour: 'sage green', material: 'recycled plastic', labelText: 'Sanfter Schaumreiniger · 150 ml', locale: 'de-DE', scene: 'a washbasin with green tiles' },
  { sku: 'SKN-SPF-104', group: 'skincare', name: 'Daily Mineral Sunscreen SPF 50', brand: 'Kiri Skin', category: 'sunscreen tube', colour: 'sky blue', material: 'soft-touch plastic', labelText: 'Mineral Sunscreen SPF 50 · 50 ml', locale: 'en-US', scene: 'a beach bag on warm sand' },
  { sku: 'SKN-EYE-105', group: 'skincare', name: 'Caffeine Eye Cream', brand: 'Atelier Solène', category: 'small cream jar', colour: 'rose gold', material: 'glass with a metal lid', labelText: 'Crème Contour des Yeux · Caféine · 15 ml', locale: 'fr-FR', scene: 'a vanity tray with a jade roller' },
  { sku: 'SKN-TON-106', group: 'skincare', name: 'Rice Water Toner', brand: 'Hana Lab', category: 'toner bottle', colour: 'milky white', material: 'clear PET', labelText: 'Tónico de Agua de Arroz · 200 ml', locale: 'es-ES', scene: 'a light wooden shelf with a small bonsai' },
  // Jewelry
  { sku: 'JWL-RNG-201', group: 'jewelry', name: 'Solitaire Ring Lab Diamond 0.5 ct', brand: 'Aurelia', category: 'solitaire ring in an open ring box', colour: 'yellow gold', material: '18k gold', labelText: 'Aurelia · Solitaire 0.5 ct · 18k', locale: 'en-GB', scene: 'a velvet jewelry tray on a dressing table' },
  { sku: 'JWL-NCK-202', group: 'jewelry', name: 'Freshwater Pearl Pendant Necklace', brand: 'Aurelia', category: 'pendant necklace on a display bust', colour: 'white pearl', material: 'sterling silver', labelText: "Perla d'acqua dolce · Argento 925", locale: 'it-IT', scene: 'a linen-covered table by a bright window' },
  { sku: 'JWL-EAR-203', group: 'jewelry', name: 'Hammered Hoop Earrings', brand: 'Orsa Studio', category: 'hoop earrings on a display card', colour: 'gold', material: 'gold vermeil', labelText: 'Hammered Hoops · 30 mm · Gold Vermeil', locale: 'en-US', scene: 'a ceramic dish on a marble surface' },
  { sku: 'JWL-BRC-204', group: 'jewelry', name: 'Classic Tennis Bracelet', brand: 'Orsa Studio', category: 'tennis bracelet in a gift box', colour: 'silver', material: 'sterling silver with cubic zirconia', labelText: 'Tennisarmband · Silber 925 · 18 cm', locale: 'de-DE', scene: 'a gift table with ribbon and wrapping paper' },
  { sku: 'JWL-WCH-205', group: 'jewelry', name: 'Mesh Strap Minimalist Watch', brand: 'Nordlys', category: 'wristwatch in a presentation box', colour: 'rose gold', material: 'stainless steel mesh', labelText: 'Nordlys Mesh · 36 mm · 5 ATM', locale: 'en-GB', scene: 'a walnut desk next to a notebook' },
  { sku: 'JWL-SIG-206', group: 'jewelry', name: 'Onyx Signet Ring', brand: 'Aurelia', category: 'signet ring', colour: 'black onyx', material: 'sterling silver', labelText: 'Chevalière Onyx · Argent 925', locale: 'fr-FR', scene: 'a leather valet tray' },
  // Packaged goods
  { sku: 'PKG-COF-301', group: 'packaged goods', name: 'Ethiopia Yirgacheffe Coffee Beans', brand: 'Roastwell', category: 'coffee bag with a valve', colour: 'kraft brown', material: 'kraft paper', labelText: 'Ethiopia Yirgacheffe · Whole Bean · 250 g', locale: 'en-GB', scene: 'a kitchen counter beside a pour-over kettle' },
  { sku: 'PKG-TEA-302', group: 'packaged goods', name: 'Earl Grey Impérial Loose Leaf Tea', brand: 'Maison Thé', category: 'tea tin', colour: 'navy blue', material: 'printed tin', labelText: 'Earl Grey Impérial · 100 g', locale: 'fr-FR', scene: 'a breakfast table with a porcelain teapot' },
  { sku: 'PKG-OIL-303', group: 'packaged goods', name: 'Extra Virgin Olive Oil', brand: 'Casa Oliva', category: 'olive oil bottle', colour: 'dark green', material: 'dark glass', labelText: 'Olio Extravergine di Oliva · 500 ml', locale: 'it-IT', scene: 'a rustic kitchen with tomatoes and basil' },
  { sku: 'PKG-GRA-304', group: 'packaged goods', name: 'Honey Almond Granola', brand: 'Morning Field', category: 'cereal box', colour: 'golden yellow', material: 'printed carton', labelText: 'Honey Almond Granola · 400 g', locale: 'en-US', scene: 'a sunny breakfast nook with a bowl of yogurt' },
  { sku: 'PKG-CHO-305', group: 'packaged goods', name: 'Dark Chocolate 70% Sea Salt', brand: 'Kakao Haus', category: 'chocolate bar in a paper wrapper', colour: 'deep brown', material: 'paper', labelText: 'Zartbitter 70% · Meersalz · 100 g', locale: 'de-DE', scene: 'a slate board with broken chocolate pieces' },
  { sku: 'PKG-HON-306', group: 'packaged goods', name: 'Raw Wildflower Honey', brand: 'Colmena', category: 'honey jar', colour: 'amber', material: 'glass jar with a wooden lid', labelText: 'Miel Cruda de Flores Silvestres · 350 g', locale: 'es-ES', scene: 'a farmhouse table with a honey dipper' },
];

/** The lifestyle slot's scene reference (catalog setting `sceneReferences`). */
export const SAMPLE_SCENES = ['scene-studio-shelf.jpg'] as const;

export function packshotFileName(sku: string): string {
  return `packshot-${sku.toLowerCase()}.jpg`;
}

const PACKSHOT_SIZE = 1024;

/** Draws the packshots and scenes missing from `dir`. Existing files are kept as they are. */
export async function writeSampleImages(dir: string): Promise<{ written: number; kept: number }> {
  await fs.mkdir(dir, { recursive: true });
  let written = 0;
  let kept = 0;
  const writeOnce = async (name: string, draw: () => Promise<Buffer>) => {
    const file = path.join(dir, name);
    try {
      await fs.access(file);
      kept++;
      return;
    } catch {
      // Drawn below.
    }
    const bytes = await draw();
    await fs.writeFile(`${file}.tmp`, bytes);
    await fs.rename(`${file}.tmp`, file);
    written++;
  };
  for (const [i, p] of SAMPLE_PRODUCTS.entries()) {
    await writeOnce(packshotFileName(p.sku), () =>
      makeTestImage({ width: PACKSHOT_SIZE, height: PACKSHOT_SIZE, format: 'jpeg', seed: 1_000 + i * 37, text: p.brand.toUpperCase(), quality: 88 }),
    );
  }
  await writeOnce(SAMPLE_SCENES[0], drawScene);
  return { written, kept };
}

/** A plain interior: wall, window light, a wooden shelf and a plant. Real pixels for the compose step. */
async function drawScene(): Promise<Buffer> {
  const w = 1536;
  const h = 1152;
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}">
  <defs>
    <linearGradient id="wall" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="#f4efe8"/><stop offset="1" stop-color="#d9d0c4"/></linearGradient>
    <linearGradient id="light" x1="0" y1="0" x2="1" y2="0"><stop offset="0" stop-color="#fffdf6" stop-opacity="0.9"/><stop offset="1" stop-color="#fffdf6" stop-opacity="0"/></linearGradient>
    <linearGradient id="wood" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#b98a5e"/><stop offset="1" stop-color="#8a5f3b"/></linearGradient>
  </defs>
  <rect width="${w}" height="${h}" fill="url(#wall)"/>
  <polygon points="120,0 620,0 980,${h * 0.72} 300,${h * 0.72}" fill="url(#light)"/>
  <rect x="0" y="${h * 0.72}" width="${w}" height="${h * 0.05}" fill="url(#wood)"/>
  <rect x="0" y="${h * 0.77}" width="${w}" height="${h * 0.23}" fill="#cfc4b6"/>
  <ellipse cx="${w * 0.82}" cy="${h * 0.71}" rx="90" ry="18" fill="#6b5a48" opacity="0.35"/>
  <rect x="${w * 0.82 - 70}" y="${h * 0.55}" width="140" height="${h * 0.17}" rx="14" fill="#e9e4dc"/>
  <ellipse cx="${w * 0.82}" cy="${h * 0.45}" rx="150" ry="120" fill="#5f8a5a"/>
  <ellipse cx="${w * 0.79}" cy="${h * 0.38}" rx="90" ry="80" fill="#74a06c"/>
  <circle cx="${w * 0.18}" cy="${h * 0.64}" r="46" fill="#efe6d8" stroke="#cdbfa9" stroke-width="6"/>
</svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 88 }).toBuffer();
}

export function sampleProductAttributes(p: SampleProduct, imageBaseUrl: string): Record<string, unknown> {
  return {
    name: p.name,
    brand: p.brand,
    category: p.category,
    colour: p.colour,
    material: p.material,
    labelText: p.labelText,
    locale: p.locale,
    scene: p.scene,
    productGroup: p.group,
    packshotUrl: `${imageBaseUrl}/${packshotFileName(p.sku)}`,
  };
}

export interface SampleImport {
  catalogId: string;
  products: number;
  added: number;
  updated: number;
  unchanged: number;
  imagesWritten: number;
}

/**
 * Upserts the `sample` catalog and its products. `imageBaseUrl` is where the packshots and scenes are
 * served (the stack's file server); `packshotDir`, when given, is filled with any missing images first.
 */
export async function ensureSampleCatalog(
  db: Kysely<Database>,
  o: { imageBaseUrl: string; packshotDir?: string; destinations?: DestinationSettings[] },
): Promise<SampleImport> {
  const base = o.imageBaseUrl.replace(/\/+$/, '');
  const settings = { sceneReferences: SAMPLE_SCENES.map((s) => `${base}/${s}`), ...(o.destinations?.length ? { destinations: o.destinations } : {}) };
  // The destinations of src/local/destinations.ts, checked against the kinds this build has.
  validateCatalogSettings(settings, DESTINATION_KINDS);
  const images = o.packshotDir ? await writeSampleImages(o.packshotDir) : { written: 0, kept: 0 };
  const rows = SAMPLE_PRODUCTS.map((p) => {
    const attributes = sampleProductAttributes(p, base);
    return {
      catalogId: SAMPLE_CATALOG_ID,
      sku: p.sku,
      name: p.name,
      attributes,
      attributesFingerprint: productFingerprint({ name: p.name, attributes }),
      source: 'sample',
    };
  });
  const existing = await productFingerprints(db, SAMPLE_CATALOG_ID);
  await db.transaction().execute(async (tx) => {
    await upsertCatalog(tx, { id: SAMPLE_CATALOG_ID, name: SAMPLE_CATALOG_NAME, settings });
    // Only what is new or different: an unchanged product keeps its row (and its updated_at) as it was.
    await upsertProducts(
      tx,
      rows.filter((r) => existing.get(r.sku) !== r.attributesFingerprint),
    );
  });
  const added = rows.filter((r) => !existing.has(r.sku)).length;
  const unchanged = rows.filter((r) => existing.get(r.sku) === r.attributesFingerprint).length;
  return { catalogId: SAMPLE_CATALOG_ID, products: rows.length, added, updated: rows.length - added - unchanged, unchanged, imagesWritten: images.written };
}
