// @ts-check
/**
 * The benchmark's baseline: the least a Worker can do with a result URL, in the same local runtime as the
 * backend. `/drain?src=` reads the body and discards it; `/put?src=` streams it into R2 with a known length.
 * The backend's generate path is measured against these, so local-runtime overhead cancels out.
 */

export default {
  /** @param {Request} request @param {{MEDIA: R2Bucket}} env */
  async fetch(request, env) {
    const url = new URL(request.url);
    const src = url.searchParams.get("src");
    if (!src) return Response.json({ error: "src is required" }, { status: 400 });
    const upstream = await fetch(src);
    const body = /** @type {ReadableStream<Uint8Array>} */ (upstream.body);
    if (url.pathname === "/drain") {
      let bytes = 0;
      const reader = body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        bytes += value.byteLength;
      }
      return Response.json({ bytes });
    }
    if (url.pathname === "/put") {
      const length = Number(upstream.headers.get("content-length"));
      const { readable, writable } = new FixedLengthStream(length);
      const [, stored] = await Promise.all([body.pipeTo(writable), env.MEDIA.put(`bench/${crypto.randomUUID()}`, readable)]);
      return Response.json({ bytes: stored?.size ?? 0 });
    }
    return Response.json({ error: "not found" }, { status: 404 });
  },
};
