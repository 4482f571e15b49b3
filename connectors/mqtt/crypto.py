"""Optional MQTT payload encryption with SM4-GCM (GB/T 32907 block cipher, GCM mode), as Chinese plants require
for data leaving the machine network. Pure; `cryptography` provides SM4.

Wire format: nonce (12 bytes) ‖ ciphertext ‖ tag (16 bytes), raw or base64 text (`encoding`). The associated data
is the topic when `bind_topic` is on, so a message replayed onto another topic fails authentication.
"""
from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from connectors.translatable import TranslatableError, gettext_noop

NONCE_BYTES, TAG_BYTES, KEY_BYTES = 12, 16, 16


class KeyFormatError(TranslatableError):
    """The SM4 key is not 32 hexadecimal digits."""


class DecryptionError(ValueError):
    """The payload cannot be decrypted (wrong key, tampered, truncated, not base64)."""


def parse_key(text: str) -> bytes:
    """A 128-bit SM4 key given as 32 hex digits (how it sits in the connector's secrets)."""
    try:
        key = bytes.fromhex(text.strip())
    except (ValueError, AttributeError):
        raise KeyFormatError(gettext_noop("sm4_key: must be 32 hexadecimal digits")) from None
    if len(key) != KEY_BYTES:
        raise KeyFormatError(gettext_noop("sm4_key: must be %(expected)s bytes (32 hex digits), got %(actual)s"),
                             expected=KEY_BYTES, actual=len(key))
    return key


def encrypt(key: bytes, plaintext: bytes, *, topic: str | None = None, nonce: bytes | None = None,
            base64_text: bool = False) -> bytes:
    """For publishers, the simulator and tests."""
    nonce = nonce or os.urandom(NONCE_BYTES)
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    if topic is not None:
        encryptor.authenticate_additional_data(topic.encode())
    sealed = nonce + encryptor.update(plaintext) + encryptor.finalize() + encryptor.tag
    return base64.b64encode(sealed) if base64_text else sealed


def decrypt(key: bytes, payload: bytes, *, topic: str | None = None, base64_text: bool = False) -> bytes:
    if base64_text:
        try:
            payload = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise DecryptionError("encrypted payload is not base64") from None
    if len(payload) < NONCE_BYTES + TAG_BYTES:
        raise DecryptionError("encrypted payload too short")
    nonce, body, tag = payload[:NONCE_BYTES], payload[NONCE_BYTES:-TAG_BYTES], payload[-TAG_BYTES:]
    decryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    if topic is not None:
        decryptor.authenticate_additional_data(topic.encode())
    try:
        return decryptor.update(body) + decryptor.finalize()
    except InvalidTag:
        raise DecryptionError("SM4-GCM authentication failed (wrong key, tampered or wrong topic)") from None
