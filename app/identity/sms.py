"""Sending SMS. ``LogSmsSender`` (the default) writes the message to the log and to the
``sms_outbox`` table, where dev tools and tests read it; a real gateway is a class with the
same ``send`` method named by ``PMS_SMS_SENDER=module:Class`` (constructed with settings)."""

from __future__ import annotations

import importlib
import logging
from typing import Protocol

from app.core.db import Database
from app.core.settings import Settings
from app.identity.models import SmsMessage

log = logging.getLogger("pms.sms")


class SmsSender(Protocol):
    async def send(self, phone: str, body: str) -> None: ...


class LogSmsSender:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def send(self, phone: str, body: str) -> None:
        log.info("SMS to %s***: %d characters", phone[:4], len(body))
        async with self._db.transaction() as session:
            session.add(SmsMessage(phone=phone, body=body))


class SmsSenderNotAllowed(RuntimeError):
    """Startup error: the configured sender must not run in this environment."""


def check_sender_allowed(settings: Settings) -> None:
    """The ``log`` sender keeps live codes and phone numbers in clear in ``sms_outbox``:
    fine on a laptop and in the test suite, never in a deployment."""
    if settings.sms_sender == "log" and settings.env not in ("dev", "test"):
        raise SmsSenderNotAllowed(
            f"PMS_SMS_SENDER=log is for development only (PMS_ENV={settings.env}): it stores "
            "codes and phone numbers in clear; set PMS_SMS_SENDER=module:Class of a gateway"
        )


def sender_from_settings(settings: Settings, db: Database) -> SmsSender:
    check_sender_allowed(settings)
    if settings.sms_sender == "log":
        return LogSmsSender(db)
    module_name, _, class_name = settings.sms_sender.partition(":")
    sender_cls = getattr(importlib.import_module(module_name), class_name)
    sender: SmsSender = sender_cls(settings)
    return sender
