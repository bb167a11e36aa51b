// @ts-check
import { describe, expect, it } from "vitest";

import { HttpError } from "../../../worker_src/backend/http.js";
import {
  clientRequestIdOf,
  encodeCursor,
  idempotencyKeyOf,
  readGenerateRequest,
  requireJson,
  validateGenerate,
  validateListQuery,
} from "../../../worker_src/backend/validate.js";

/** What a rejection looks like to a client: status, code, the field it names and the message. */
async function rejection(/** @type {() => unknown} */ check) {
  try {
    await check();
  } catch (err) {
    if (err instanceof HttpError) return { status: err.status, code: err.code, ...err.extra, message: err.message };
    throw err;
  }
  throw new Error("accepted");
}

/** @param {string} field @param {string} message */
const invalid = (field, message) => ({ status: 400, code: "invalid_request", field, message: `${field}: ${message}` });
const TOO_LARGE = { status: 413, code: "payload_too_large", field: "body", message: "body: must be at most 16384 bytes" };

const SIZES = "1664*928, 1472*1104, 1328*1328, 1104*1472, 928*1664";

describe("validateGenerate: the body of POST /api/generate", () => {
  it("passes the known fields through as they are", () => {
    const body = { prompt: "a fox", negative_prompt: "blurry", size: "1328*1328", seed: 7 };
    expect(validateGenerate(body)).toEqual(body);
  });

  it("leaves out optional fields that were not sent, or sent as null (negative_prompt)", () => {
    expect(validateGenerate({ prompt: "a fox" })).toEqual({ prompt: "a fox" });
    expect(validateGenerate({ prompt: "a fox", negative_prompt: null })).toEqual({ prompt: "a fox" });
  });

  it.each([
    ["missing prompt", {}, "prompt", "is required"],
    ["null prompt", { prompt: null }, "prompt", "is required"],
    ["empty prompt", { prompt: "" }, "prompt", "must be 1 to 800 characters and not blank"],
    ["blank prompt", { prompt: "   \n" }, "prompt", "must be 1 to 800 characters and not blank"],
    ["prompt too long", { prompt: "x".repeat(801) }, "prompt", "must be at most 800 characters (got 801)"],
    ["prompt not a string", { prompt: 42 }, "prompt", "must be a string"],
    ["negative prompt too long", { prompt: "ok", negative_prompt: "n".repeat(501) }, "negative_prompt",
      "must be at most 500 characters (got 501)"],
    ["negative prompt not a string", { prompt: "ok", negative_prompt: ["blurry"] }, "negative_prompt",
      "must be a string"],
    ["size not offered", { prompt: "ok", size: "1024*1024" }, "size", `must be one of ${SIZES}`],
    ["size with x", { prompt: "ok", size: "1328x1328" }, "size", `must be one of ${SIZES}`],
    ["size not a string", { prompt: "ok", size: 1328 }, "size", `must be one of ${SIZES}`],
    ["seed negative", { prompt: "ok", seed: -1 }, "seed", "must be an integer from 0 to 2147483647"],
    ["seed too large", { prompt: "ok", seed: 2147483648 }, "seed", "must be an integer from 0 to 2147483647"],
    ["seed fractional", { prompt: "ok", seed: 1.5 }, "seed", "must be an integer from 0 to 2147483647"],
    ["seed as string", { prompt: "ok", seed: "7" }, "seed", "must be an integer from 0 to 2147483647"],
    ["seed boolean", { prompt: "ok", seed: true }, "seed", "must be an integer from 0 to 2147483647"],
    ["unknown field", { prompt: "ok", n: 2 }, "n",
      "is not a known field (expected one of prompt, negative_prompt, size, seed)"],
    ["array body", ["prompt"], "body", "must be a JSON object"],
    ["null body", null, "body", "must be a JSON object"],
    ["string body", "a fox", "body", "must be a JSON object"],
  ])("refuses %s, naming the field", async (_case, body, field, message) => {
    expect(await rejection(() => validateGenerate(body))).toEqual(invalid(field, message));
  });

  it("counts characters as the provider does (code points: each emoji is one), limits inclusive", () => {
    const body = { prompt: "🦊".repeat(800), negative_prompt: "n".repeat(500), seed: 2147483647, size: "928*1664" };
    expect(validateGenerate(body)).toEqual(body);
  });

  it("refuses 801 emoji, counted as 801", async () => {
    expect(await rejection(() => validateGenerate({ prompt: "🦊".repeat(801) }))).toEqual(
      invalid("prompt", "must be at most 800 characters (got 801)"),
    );
  });

  it("accepts seed 0", () => {
    expect(validateGenerate({ prompt: "ok", seed: 0 })).toEqual({ prompt: "ok", seed: 0 });
  });
});

describe("readGenerateRequest: the body as it arrives, through its byte cap", () => {
  /** @param {BodyInit} body @param {Record<string, string>} [headers] */
  const post = (body, headers = {}) => new Request("https://api.example/api/generate", { method: "POST", body, headers });

  /** A chunked body of `pieces` 64 KiB pieces that counts how many were read. */
  const counted = (/** @type {number} */ pieces) => {
    const seen = { pulled: 0 };
    const stream = new ReadableStream({
      pull(controller) {
        if (seen.pulled === pieces) return controller.close();
        seen.pulled += 1;
        controller.enqueue(new TextEncoder().encode(seen.pulled === 1 ? '{"prompt": "' : "x".repeat(65536)));
      },
    }, { highWaterMark: 0 }); // no read ahead: a piece is produced only when the reader asks
    return { stream, seen };
  };

  it("parses and checks a JSON body", async () => {
    expect(await readGenerateRequest(post(JSON.stringify({ prompt: "a fox", seed: 1 })))).toEqual({
      prompt: "a fox",
      seed: 1,
    });
  });

  it.each([
    ["malformed JSON", "{not json"],
    ["an empty body", ""],
    ["bytes that are not UTF-8", new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])],
  ])("refuses %s", async (_case, body) => {
    expect(await rejection(() => readGenerateRequest(post(body)))).toEqual(
      invalid("body", "must be a JSON object (UTF-8)"),
    );
  });

  it("refuses a body over 16 KiB by its bytes, not its characters: 413", async () => {
    const body = JSON.stringify({ prompt: "é".repeat(8200) }); // 8200 characters, 16 400+ bytes
    expect(await rejection(() => readGenerateRequest(post(body)))).toEqual(TOO_LARGE);
  });

  it("reads a body of exactly 16 KiB", async () => {
    const body = JSON.stringify({ prompt: "ok", negative_prompt: "" }).replace('""', `"${" ".repeat(16384 - 36)}"`);
    expect(new TextEncoder().encode(body).byteLength).toBe(16384);
    expect(await rejection(() => readGenerateRequest(post(body)))).toMatchObject({ status: 400, field: "negative_prompt" });
  });

  it("refuses a declared Content-Length over 16 KiB without reading the body", async () => {
    const { stream, seen } = counted(1000);
    expect(await rejection(() => readGenerateRequest(post(stream, { "Content-Length": "16385" })))).toEqual(TOO_LARGE);
    expect(seen.pulled).toBe(0);
  });

  it("stops reading a body without a length as soon as it passes 16 KiB", async () => {
    const { stream, seen } = counted(3200); // 200 MiB, were it read
    expect(await rejection(() => readGenerateRequest(post(stream)))).toEqual(TOO_LARGE);
    expect(seen.pulled).toBeLessThanOrEqual(3);
  });
});

describe("requireJson: generate takes JSON only", () => {
  /** @param {Record<string, string>} headers */
  const request = (headers) => new Request("https://api.example/api/generate", { method: "POST", headers });

  it.each(["application/json", "application/json; charset=utf-8", "Application/JSON"])("accepts %s", (type) => {
    expect(() => requireJson(request({ "Content-Type": type }))).not.toThrow();
  });

  it.each([
    ["no Content-Type", {}],
    ["text/plain (what a cross-site form can send)", { "Content-Type": "text/plain" }],
    ["a urlencoded form", { "Content-Type": "application/x-www-form-urlencoded" }],
    ["a look-alike", { "Content-Type": "application/jsonp" }],
  ])("refuses %s with 415", async (_case, headers) => {
    expect(await rejection(() => requireJson(request(headers)))).toEqual({
      status: 415, code: "unsupported_media_type", field: "Content-Type", message: "Content-Type: must be application/json",
    });
  });
});

describe("idempotencyKeyOf: the Idempotency-Key header", () => {
  /** @param {Record<string, string>} headers */
  const request = (headers) => new Request("https://api.example/api/generate", { headers });
  const RULE = "must be 16 to 128 printable ASCII characters, unguessable (a random UUID)";

  it("is null when the header is absent", () => {
    expect(idempotencyKeyOf(request({}))).toBeNull();
  });

  it("is the key when it is 16 to 128 printable ASCII characters (the page's UUIDs are 36)", () => {
    expect(idempotencyKeyOf(request({ "Idempotency-Key": "k".repeat(128) }))).toBe("k".repeat(128));
    expect(idempotencyKeyOf(request({ "Idempotency-Key": "~".repeat(16) }))).toBe("~".repeat(16));
    const uuid = crypto.randomUUID();
    expect(idempotencyKeyOf(request({ "Idempotency-Key": uuid }))).toBe(uuid);
  });

  it.each([
    ["empty", ""],
    ["15 characters (guessable)", "k".repeat(15)],
    ["129 characters", "k".repeat(129)],
    ["with a space", "has space, long enough"],
    ["with a tab", "tab\there, long enough"],
  ])("refuses a key that is %s", async (_case, key) => {
    expect(await rejection(() => idempotencyKeyOf(request({ "Idempotency-Key": key })))).toEqual(
      invalid("Idempotency-Key", RULE),
    );
  });
});

describe("clientRequestIdOf: a client's own X-Request-Id", () => {
  /** @param {Record<string, string>} headers */
  const request = (headers) => new Request("https://api.example/api/health", { headers });

  it("is the client's id when it is 1 to 128 of A-Z a-z 0-9 . _ : -", () => {
    expect(clientRequestIdOf(request({ "X-Request-Id": "checkout-7781:a.b_c" }))).toBe("checkout-7781:a.b_c");
    expect(clientRequestIdOf(request({ "X-Request-Id": "r".repeat(128) }))).toBe("r".repeat(128));
  });

  it.each([["absent", {}], ["with a space", { "X-Request-Id": "a b" }], ["129 characters", { "X-Request-Id": "r".repeat(129) }],
    ["markup", { "X-Request-Id": "<script>" }]])("is null when %s: left out, never echoed", (_case, headers) => {
    expect(clientRequestIdOf(request(headers))).toBeNull();
  });
});

describe("validateListQuery: the query of GET /api/runs", () => {
  /** @param {Record<string, string>} params */
  const list = (params) => validateListQuery(new URLSearchParams(params));

  it("defaults to the newest 20 runs of any status", () => {
    expect(list({})).toEqual({
      status: null, since: null, until: null, requestId: null, clientRequestId: null, limit: 20, cursor: null,
    });
  });

  it("normalises times to ISO UTC, keeping the instant", () => {
    const query = list({ since: "2026-01-02T03:04:05+02:00", until: "2026-01-03" });
    expect([query.since, query.until]).toEqual(["2026-01-02T01:04:05.000Z", "2026-01-03T00:00:00.000Z"]);
  });

  it("reads back the cursor it hands out", () => {
    const cursor = encodeCursor("2026-01-02T03:04:05.000Z", "0b9e4a52-6f3c-4d1e-9a7b-2c5d8e1f0a34");
    expect(list({ cursor, status: "failed", limit: "100", request_id: "req-1", client_request_id: "mine-1" })).toMatchObject({
      status: "failed",
      limit: 100,
      requestId: "req-1",
      clientRequestId: "mine-1",
      cursor: { createdAt: "2026-01-02T03:04:05.000Z", id: "0b9e4a52-6f3c-4d1e-9a7b-2c5d8e1f0a34" },
    });
  });

  it("hands out cursors that are URL-safe", () => {
    expect(encodeCursor("2026-01-02T03:04:05.000Z", "id?&=/+")).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  const STATUSES = "queued, submitted, running, persisting, succeeded, failed, dead_lettered";
  const TIMESTAMP = "must be an ISO 8601 timestamp such as 2026-01-02T03:04:05Z";
  it.each([
    [{ status: "done" }, "status", `must be one of ${STATUSES}`],
    [{ limit: "0" }, "limit", "must be an integer from 1 to 100"],
    [{ limit: "101" }, "limit", "must be an integer from 1 to 100"],
    [{ limit: "ten" }, "limit", "must be an integer from 1 to 100"],
    [{ limit: "1e1" }, "limit", "must be an integer from 1 to 100"],
    [{ since: "yesterday" }, "since", TIMESTAMP],
    [{ until: "2026-13-45T00:00:00Z" }, "until", TIMESTAMP],
    [{ since: "2026-01-02 03:04:05" }, "since", TIMESTAMP],
    [{ cursor: "not-a-cursor" }, "cursor", "is not a cursor this API returned"],
    [{ cursor: "A".repeat(513) }, "cursor", "is not a cursor this API returned"],
    [{ cursor: btoa(JSON.stringify([1, 2])) }, "cursor", "is not a cursor this API returned"],
    [{ request_id: "r".repeat(129) }, "request_id", "must be at most 128 characters"],
    [{ client_request_id: "r".repeat(129) }, "client_request_id", "must be at most 128 characters"],
    [{ sort: "asc" }, "sort",
      "is not a known parameter (expected status, since, until, limit, cursor, request_id, client_request_id)"],
  ])("refuses %o, naming the parameter", async (params, field, message) => {
    expect(await rejection(() => list(params))).toEqual(invalid(field, message));
  });
});
