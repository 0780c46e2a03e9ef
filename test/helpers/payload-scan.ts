/**
 * Every payload of an exported history (the JSON `temporal workflow show --output json` writes,
 * or any JSON holding `{ metadata, data }` payloads), base64-decoded: what a person who can read
 * the history (the Web UI, an export) sees of it without the codec.
 */
export interface ScannedPayload {
  /** JSON path of the payload inside the document. */
  path: string;
  encoding: string;
  /** The decoded data, as UTF-8 text. */
  text: string;
}

export function scanPayloads(document: unknown): ScannedPayload[] {
  const found: ScannedPayload[] = [];
  const walk = (node: unknown, path: string): void => {
    if (Array.isArray(node)) {
      node.forEach((v, i) => walk(v, `${path}[${i}]`));
      return;
    }
    if (node === null || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    if (typeof o['data'] === 'string' && o['metadata'] !== null && typeof o['metadata'] === 'object') {
      const metadata = o['metadata'] as Record<string, unknown>;
      const encoding = typeof metadata['encoding'] === 'string' ? Buffer.from(metadata['encoding'], 'base64').toString('utf8') : '';
      found.push({ path, encoding, text: Buffer.from(o['data'], 'base64').toString('utf8') });
      return;
    }
    for (const [k, v] of Object.entries(o)) walk(v, `${path}.${k}`);
  };
  walk(document, '$');
  return found;
}

/** The payloads whose decoded text contains any of `needles`. */
export function payloadsContaining(document: unknown, needles: readonly string[]): ScannedPayload[] {
  return scanPayloads(document).filter((p) => needles.some((n) => p.text.includes(n)));
}
