"""A mailer that writes each message to <directory>/<key>.eml: the embedded demo's outbox on disk.

Any mail program opens the files; nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import os
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

from integrations.mail import MailDeliveryError


class FileMailer:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def send(self, message: EmailMessage, key: str) -> None:
        try:
            await asyncio.to_thread(self._write, message.as_bytes(policy=SMTP), key)
        except OSError as error:
            raise MailDeliveryError(f"cannot write {self.directory / key}.eml: {error}") from error

    def _write(self, data: bytes, key: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / f"{key}.eml"
        # Written aside and renamed, so a reader never sees half a message.
        partial = target.with_suffix(".eml.partial")
        partial.write_bytes(data)
        os.replace(partial, target)
