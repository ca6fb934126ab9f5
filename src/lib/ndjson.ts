/**
 * Gzipped NDJSON (one JSON value per line), written and read with the platform's own
 * `CompressionStream`: the webhook history's archive format (features/history/archive-object.ts).
 */
export async function gzipNdjson(values: readonly unknown[]): Promise<Uint8Array> {
  const text = `${values.map((v) => JSON.stringify(v)).join("\n")}\n`;
  const gzipped = new Blob([text]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(gzipped).arrayBuffer());
}

/** The values of a gzipped NDJSON body, in order; the caller vouches for their shape. */
export async function gunzipNdjson<T>(body: ReadableStream<Uint8Array>): Promise<T[]> {
  const text = await new Response(body.pipeThrough(new DecompressionStream("gzip"))).text();
  const values: T[] = [];
  for (const line of text.split("\n")) if (line.length > 0) values.push(JSON.parse(line) as T);
  return values;
}
