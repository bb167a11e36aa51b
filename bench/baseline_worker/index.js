// @ts-check
/**
 * The benchmark's probe: the least a Worker can do with a result URL, in the same local runtime as the backend,
 * and a deliberately bad way of doing it. Never deployed (only `python -m bench` starts it). `?src=` is the
 * result URL; each route answers `{bytes, ms}` (ms between the first byte asked for and the answer, as the
 * Worker's clock sees it):
 * - `/drain`: read the body and drop it: the runtime's own cost of receiving the bytes, the memory floor;
 * - `/put`: stream it into R2 with a known length (`FixedLengthStream` → `put`), the baseline of the backend;
 * - `/buffered`: read it whole (`arrayBuffer()`), then `put`: what the memory verdict must catch.
 */

/** @typedef {(body: ReadableStream<Uint8Array>, length: number, bucket: R2Bucket) => Promise<number>} Variant */

/** @type {Record<string, Variant>} */
const VARIANTS = {
  "/drain": async (body) => {
    let bytes = 0;
    const reader = body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return bytes;
      bytes += value.byteLength;
    }
  },
  "/put": async (body, length, bucket) => {
    const { readable, writable } = new FixedLengthStream(length);
    const [, stored] = await Promise.all([body.pipeTo(writable), bucket.put(key(), readable)]);
    return stored?.size ?? 0;
  },
  "/buffered": async (body, _length, bucket) => {
    const whole = await new Response(body).arrayBuffer();
    const stored = await bucket.put(key(), whole);
    return stored?.size ?? 0;
  },
};

const key = () => `bench/${crypto.randomUUID()}`;

export default {
  /** @param {Request} request @param {{MEDIA: R2Bucket}} env */
  async fetch(request, env) {
    const url = new URL(request.url);
    const variant = VARIANTS[url.pathname];
    if (!variant) return Response.json({ error: "not found" }, { status: 404 });
    const src = url.searchParams.get("src");
    if (!src) return Response.json({ error: "src is required" }, { status: 400 });
    const started = Date.now();
    const upstream = await fetch(src);
    if (!upstream.ok || !upstream.body) return Response.json({ error: `src answered ${upstream.status}` }, { status: 502 });
    const bytes = await variant(upstream.body, Number(upstream.headers.get("content-length")), env.MEDIA);
    return Response.json({ bytes, ms: Date.now() - started });
  },
};
