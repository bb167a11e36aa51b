// @ts-check
/**
 * The benchmark's baseline: the least a Worker can do with a result URL, in the same local runtime as the
 * backend. `/put?src=` streams it into R2 with a known length. The backend's generate path is measured
 * against it, so local-runtime overhead cancels out.
 */

export default {
  /** @param {Request} request @param {{MEDIA: R2Bucket}} env */
  async fetch(request, env) {
    const url = new URL(request.url);
    if (url.pathname !== "/put") return Response.json({ error: "not found" }, { status: 404 });
    const src = url.searchParams.get("src");
    if (!src) return Response.json({ error: "src is required" }, { status: 400 });
    const upstream = await fetch(src);
    const body = /** @type {ReadableStream<Uint8Array>} */ (upstream.body);
    const length = Number(upstream.headers.get("content-length"));
    const { readable, writable } = new FixedLengthStream(length);
    const [, stored] = await Promise.all([body.pipeTo(writable), env.MEDIA.put(`bench/${crypto.randomUUID()}`, readable)]);
    return Response.json({ bytes: stored?.size ?? 0 });
  },
};
