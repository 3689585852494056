"""Access rules: who may call an RPC, read from the contract itself.

Every RPC in ``proto/hivesync/v1`` carries the custom method option
``(hivesync.v1.access)`` (an :class:`~hivesync.v1.access_pb2.AccessRule`). The
server enforces it; a client reads the same rule to decide, before calling,
whether to show the upgrade intercept (``min_tier``/``feature``) or a sign-in
screen (``public``/``scopes``)::

    from hivesync import access_rule

    rule = access_rule(hs.meta.get_compatibility)  # or "hivesync.v1.MetaService/GetCompatibility"
    if rule.min_tier > current_tier:
        show_upgrade_intercept(rule.feature)

Google's Protobuf runtime keeps custom options in the generated descriptors, so
the rule comes straight from the compiled contract, with no copy to drift.
"""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable, Iterator
from typing import Any

from connectrpc.method import MethodInfo
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import MethodDescriptor, ServiceDescriptor

from . import v1 as _v1
from .v1.access_pb2 import AccessRule, access

__all__ = ["AccessRule", "MethodRef", "access_rule", "all_methods", "method_descriptor"]

MethodRef = str | MethodDescriptor | MethodInfo[Any, Any] | Callable[..., Any]
"""Anything that names an RPC: ``"hivesync.v1.MetaService/GetCompatibility"``
(or with a ``.`` or a leading ``/``), a ``MethodDescriptor``, a connectrpc
``MethodInfo``, or a generated client method such as
``MetaServiceClientSync.get_compatibility`` (bound or unbound)."""

_modules: list[Any] = []


def _load_contract() -> list[Any]:
    """Imports every generated ``hivesync.v1.*_pb2`` module (registering all
    services in the default descriptor pool) and returns them."""
    if not _modules:
        _modules.extend(
            importlib.import_module(f"{_v1.__name__}.{mod.name}")
            for mod in sorted(pkgutil.iter_modules(_v1.__path__), key=lambda m: m.name)
            if mod.name.endswith("_pb2")
        )
    return _modules


def _snake(name: str) -> str:
    s = re.sub(r"([^_])([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


def _services() -> Iterator[ServiceDescriptor]:
    for module in _load_contract():
        yield from module.DESCRIPTOR.services_by_name.values()


def _from_callable(fn: Callable[..., Any]) -> MethodDescriptor:
    func = getattr(fn, "__func__", fn)
    qualname: str = getattr(func, "__qualname__", "")
    module: str = getattr(func, "__module__", "") or ""
    cls_name, _, method_name = qualname.rpartition(".")
    service_name = re.sub(r"(ClientSync|Client|Sync)$", "", cls_name)
    if not module.endswith("_connect") or not service_name or not method_name:
        msg = f"{fn!r} is not a method of a generated HiveSync client"
        raise TypeError(msg)
    for service in _services():
        if service.name != service_name:
            continue
        for method in service.methods:
            if _snake(method.name) == method_name:
                return method
    msg = f"no RPC matches {qualname}"
    raise LookupError(msg)


def method_descriptor(method: MethodRef) -> MethodDescriptor:
    """Resolves ``method`` (see :data:`MethodRef`) to its ``MethodDescriptor``.

    Raises:
        LookupError: no such RPC in the contract.
        TypeError: ``method`` is none of the accepted kinds.
    """
    if isinstance(method, MethodDescriptor):
        return method
    if isinstance(method, MethodInfo):
        full_name = f"{method.service_name}.{method.name}"
    elif isinstance(method, str):
        full_name = method.lstrip("/").replace("/", ".")
    elif callable(method):
        return _from_callable(method)
    else:
        msg = f"cannot resolve an RPC from {method!r}"
        raise TypeError(msg)
    _load_contract()
    try:
        return descriptor_pool.Default().FindMethodByName(full_name)
    except KeyError:
        msg = f"no RPC named {full_name!r} in the HiveSync contract"
        raise LookupError(msg) from None


def access_rule(method: MethodRef) -> AccessRule | None:
    """Returns the ``(hivesync.v1.access)`` rule of ``method`` (a copy), or
    ``None`` if the method declares none (the server rejects such methods, so
    this only happens with a contract newer than its tests).

    Example: ``access_rule(MetaServiceClientSync.get_compatibility).public`` is ``True``.
    """
    options = method_descriptor(method).GetOptions()
    if not options.HasExtension(access):
        return None
    rule = AccessRule()
    rule.CopyFrom(options.Extensions[access])
    return rule


def all_methods() -> Iterator[tuple[MethodDescriptor, AccessRule | None]]:
    """Yields every RPC of the contract with its access rule, service by service."""
    for service in _services():
        for method in service.methods:
            yield method, access_rule(method)
