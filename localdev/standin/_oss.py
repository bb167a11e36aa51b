"""The OSS-style result bucket: presigned URLs, their signatures and expiry, and OSS's XML errors.

Why signed URLs at all: the backend must cope with URLs that expire or were tampered with, and real
DashScope results are OSS V1 presigned URLs (``Expires``, ``OSSAccessKeyId``, ``Signature``), so the
stand-in issues and checks the same shape instead of serving any path it is asked for.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qs, quote

from ._replies import Reply
from ._wire import CHINA_TZ, Generation

__all__ = ["IMAGE_RE", "Bucket", "OssError", "oss_error_reply"]

OSS_BUCKET = "dashscope-result-local"
OSS_HOST_ID = "dashscope-result-local.oss-cn-local.aliyuncs.com"
IMAGE_RE = re.compile(
    r"^/(?P<key>[0-9a-f]{2}/[0-9a-f]{2}/\d{8}/[0-9a-f]{8}/"
    r"(?P<rid>[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-1\.png)$"
)


def oss_error_reply(status: int, code: str, message: str, extra: dict[str, str] | None = None) -> Reply:
    """OSS answers errors as XML (shape per the OSS docs; UNCONFIRMED for DashScope's bucket)."""
    rid = secrets.token_hex(12).upper()
    fields = {"Code": code, "Message": message, "RequestId": rid, "HostId": OSS_HOST_ID, **(extra or {})}
    inner = "".join(f"  <{k}>{_xml_escape(v)}</{k}>\n" for k, v in fields.items())
    body = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error>\n{inner}</Error>\n'.encode()
    return Reply(
        status,
        [("Content-Type", "application/xml"), ("x-oss-request-id", rid), ("Server", "AliyunOSS")],
        body,
        endpoint="image",
    )


class OssError(Exception):
    """A refused download, answered with OSS's XML error document."""

    def __init__(self, status: int, code: str, message: str, extra: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def reply(self) -> Reply:
        return oss_error_reply(self.status, self.code, self.message, self.extra)


@dataclass
class _StoredImage:
    gen: Generation
    revoked: bool = False


class Bucket:
    """Issues presigned URLs for generations and checks them again when the image is fetched."""

    def __init__(self) -> None:
        self._secret = secrets.token_bytes(32)
        self.access_key_id = "LTAI5t" + hashlib.sha1(self._secret).hexdigest()[:18]
        self._images: dict[str, _StoredImage] = {}
        self._lock = threading.Lock()

    def issue(self, request_id: str, gen: Generation, ttl: float, base_url: str) -> str:
        """Mint an OSS-V1-presigned-style URL under ``base_url`` that expires ``ttl`` seconds from now."""
        now = time.time()
        key = (
            f"7d/{secrets.token_hex(1)}/{datetime.fromtimestamp(now, CHINA_TZ):%Y%m%d}/"
            f"{secrets.token_hex(4)}/{request_id}-1.png"
        )
        expires = math.ceil(now + ttl)
        with self._lock:
            self._images[key] = _StoredImage(gen)
        query = (
            f"Expires={expires}&OSSAccessKeyId={self.access_key_id}"
            f"&Signature={quote(self._sign(expires, key), safe='')}"
        )
        return f"{base_url}/{key}?{query}"

    def expire_all(self) -> int:
        """Make every URL issued so far answer "Request has expired."; returns how many there are."""
        with self._lock:
            for image in self._images.values():
                image.revoked = True
            return len(self._images)

    def open(self, key: str, query: str) -> Generation:
        """The generation behind a presigned URL, or ``OssError`` in the order OSS checks things."""
        q = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        if not {"Expires", "OSSAccessKeyId", "Signature"} <= q.keys():
            raise OssError(403, "AccessDenied", "You have no right to access this object because of bucket acl.")
        try:
            expires = int(q["Expires"])
        except ValueError:
            raise OssError(403, "AccessDenied", "Invalid argument: Expires.") from None
        if q["OSSAccessKeyId"] != self.access_key_id:
            raise OssError(
                403, "InvalidAccessKeyId", "The OSS Access Key Id you provided does not exist in our records."
            )
        if not hmac.compare_digest(q["Signature"].encode(), self._sign(expires, key).encode()):
            raise OssError(
                403,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
            )
        now = time.time()
        with self._lock:
            image = self._images.get(key)
        if image is None:
            raise OssError(404, "NoSuchKey", "The specified key does not exist.")
        if now >= expires or image.revoked:
            raise OssError(
                403,
                "AccessDenied",
                "Request has expired.",
                {"Expires": _iso_gmt(min(expires, now)), "ServerTime": _iso_gmt(now)},
            )
        return image.gen

    def _sign(self, expires: int, key: str) -> str:
        to_sign = f"GET\n\n\n{expires}\n/{OSS_BUCKET}/{key}".encode()
        return base64.b64encode(hmac.new(self._secret, to_sign, hashlib.sha1).digest()).decode()


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _iso_gmt(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
