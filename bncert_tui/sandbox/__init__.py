"""A sandbox to test and demo against: a real ACME CA (pebble + challtestsrv) and a Bitnami-like
nginx or Apache install dir on free loopback ports. Never touches the real system."""

from __future__ import annotations

from .ca import AcmeLab
from .ports import free_port
from .probe import http_get, served_certificate, verify_https
from .procs import live_processes
from .sandbox import Sandbox
from .stack import BitnamiStack
from .tree import Kind

__all__ = [
    "AcmeLab",
    "BitnamiStack",
    "Kind",
    "Sandbox",
    "free_port",
    "http_get",
    "live_processes",
    "served_certificate",
    "verify_https",
]
