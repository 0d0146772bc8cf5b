"""Connection settings: ``nextcloud_config`` resolved against the environment, remote folders."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .errors import NextcloudConfigError

__all__ = ["NextcloudSettings", "clean_remote_path", "default_remote_dir", "resolve_settings"]

_CONFIG_KEYS = ("url", "username", "password", "remote_path")
_REF = re.compile(r"\$\{([^}]*)\}")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BARE_VAR_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


@dataclass(frozen=True)
class NextcloudSettings:
    """Resolved connection settings; build them with :func:`resolve_settings`.

    Attributes
    ----------
    url
        Base URL of the Nextcloud instance, without a trailing slash and without credentials.
    username
        The account that owns the uploads and the share links.
    password
        Password or (recommended) app password. Left out of ``repr`` so that it never reaches
        a log line or a traceback through this object.
    remote_path
        Root folder for uploads inside the account, without leading or trailing slashes
        ("" is the account's root).
    """

    url: str
    username: str
    password: str = field(repr=False)
    remote_path: str = ""


def _config_error(message: str) -> NextcloudConfigError:
    return NextcloudConfigError(message)


def _resolve_value(key: str, raw: Any, environ: Mapping[str, str]) -> tuple[str, str | None]:
    """Resolve one config value. Returns (value, name of the variable it came from)."""
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise _config_error(
            f"nextcloud_config.{key} must be a string (an environment variable reference such "
            f'as "${{NEXTCLOUD_{key.upper()}}}"), got a {type(raw).__name__}'
        )
    value = raw.strip()
    if "${" in value:
        names = []

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if not _VAR_NAME.fullmatch(name):
                raise _config_error(
                    f"nextcloud_config.{key} holds a malformed reference ${{{name}}}"
                    if key != "password"
                    else "nextcloud_config.password holds a malformed ${...} reference"
                )
            if name not in environ:
                raise _config_error(
                    f"environment variable {name} is not set (referenced by nextcloud_config.{key})"
                )
            names.append(name)
            return environ[name]

        resolved = _REF.sub(substitute, value)
        if "${" in _REF.sub("", value):
            raise _config_error(f"nextcloud_config.{key} holds an unterminated ${{ reference")
        return resolved, (names[0] if len(names) == 1 else None)
    if value and _BARE_VAR_NAME.fullmatch(value):
        if value not in environ:
            if key == "password":
                # A bare upper-case word may be a password written here by mistake: never echo it.
                raise _config_error(
                    "nextcloud_config.password names an environment variable that is not set "
                    "(its name is not shown, in case the value is a password written there by "
                    'mistake); set the variable, or write the reference as "${NEXTCLOUD_PASSWORD}"'
                )
            raise _config_error(
                f"environment variable {value} is not set (named by nextcloud_config.{key})"
            )
        return environ[value], value
    if key == "password" and value:
        raise _config_error(
            "nextcloud_config.password must name an environment variable "
            '("${NEXTCLOUD_PASSWORD}" or "NEXTCLOUD_PASSWORD"), not hold the password itself: '
            "Snakemake keeps the config in plain text. Set the variable at run time instead."
        )
    return value, None


def resolve_settings(
    nextcloud_config: Mapping[str, Any], *, environ: Mapping[str, str] | None = None
) -> NextcloudSettings:
    """Resolve ``nextcloud_config`` against the environment.

    Parameters
    ----------
    nextcloud_config
        The ``dataset_creation.nextcloud_config`` block: ``url``, ``username``, ``password``
        and optionally ``remote_path``. Each value is either a reference ``"${VAR}"`` (also
        inside a longer string, e.g. ``"https://${NC_HOST}"``), or a bare variable name in
        upper case (``"NEXTCLOUD_URL"``, the user guide's default form), or, for every key but
        ``password``, a literal value. A literal password is refused: the password must come
        from the environment. Other keys are ignored here (the config schema checks them).
    environ
        Where variables are looked up; defaults to ``os.environ``.

    Returns
    -------
    NextcloudSettings

    Raises
    ------
    NextcloudConfigError
        A referenced variable is missing (the message names the variable and the config key),
        a required value is empty, the password is literal, or the URL is not a plain
        ``http(s)://host[/path]`` address. Messages never contain the password.
    """
    environ = os.environ if environ is None else environ
    if not isinstance(nextcloud_config, Mapping):
        raise _config_error("nextcloud_config must be a mapping with url, username and password")
    values: dict[str, str] = {}
    for key in _CONFIG_KEYS:
        value, var = _resolve_value(key, nextcloud_config.get(key), environ)
        if key != "password":
            value = value.strip()
        if key != "remote_path" and not value:
            origin = f"environment variable {var} is empty" if var else "it is empty"
            raise _config_error(f"nextcloud_config.{key} is required, but {origin}")
        values[key] = value

    url = values["url"].rstrip("/")
    parts = urlsplit(url)
    if "@" in parts.netloc:
        # Never echo this URL: it embeds credentials.
        raise _config_error(
            "nextcloud_config.url must not contain credentials (user:password@host); "
            "give them as username and password"
        )
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise _config_error(
            f"nextcloud_config.url must look like https://cloud.example.org, got {url!r}"
        )
    remote_path = clean_remote_path(values["remote_path"], what="nextcloud_config.remote_path")
    return NextcloudSettings(
        url=url, username=values["username"], password=values["password"], remote_path=remote_path
    )


def clean_remote_path(path: str, *, what: str) -> str:
    """A folder path inside the account, normalised: ``/a//b/./c/`` -> ``a/b/c``.

    Backslashes count as separators; ``..`` is refused (naming ``what`` in the error), so a
    configured path can never point outside the folder it names.
    """
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _config_error(f"{what} must not contain '..': {path!r}")
    return "/".join(parts)


def default_remote_dir(settings: NextcloudSettings, dataset_name: str, split: str) -> str:
    """The remote folder for the chunks of one split.

    ``{remote_path}/{dataset_name}/{split}``, with ``remote_path`` falling back to
    ``adata_hf_datasets`` when the config leaves it empty (the user guide's ``""``, "auto").
    """
    root = settings.remote_path or "adata_hf_datasets"
    return clean_remote_path(f"{root}/{dataset_name}/{split}", what="remote folder")
