/**
 * The body of Temporal's codec server protocol: the proto3 JSON of `temporal.api.common.v1.Payloads`,
 *   { "payloads": [ { "metadata": { "<key>": "<base64>" }, "data": "<base64>" } ] }
 * (bytes are base64, standard or URL-safe, padding optional, as proto3 JSON allows).
 */
import type { Payload } from '@temporalio/common';
import { z } from 'zod';

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const base64 = z.string().regex(BASE64, 'must be base64');

export const PayloadsBodySchema = z.object({
  payloads: z.array(
    z.object({
      metadata: z.record(z.string(), base64).nullish(),
      data: base64.nullish(),
    }),
    { error: (issue) => (issue.input === undefined ? 'is required (an array of payloads)' : 'must be an array of payloads') },
  ),
});
export type PayloadsBody = z.infer<typeof PayloadsBodySchema>;
export type JsonPayload = PayloadsBody['payloads'][number];

export function payloadFromJson({ metadata, data }: JsonPayload): Payload {
  return {
    metadata: Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
    data: Buffer.from(data ?? '', 'base64'),
  };
}

export function payloadToJson({ metadata, data }: Payload): { metadata: Record<string, string>; data: string } {
  return {
    metadata: Object.fromEntries(Object.entries(metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? new Uint8Array()).toString('base64')])),
    data: Buffer.from(data ?? new Uint8Array()).toString('base64'),
  };
}
