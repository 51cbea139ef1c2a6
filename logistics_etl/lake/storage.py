"""Where the lake's bytes live: a local folder, or Azure Blob / ADLS Gen2 (`abfs://<container>/<path>`).

delta-rs reaches Azure through its object store, configured by `storage_options`; the project hands
credentials around as one Azure Storage connection string (the environment's
AZURE_STORAGE_CONNECTION_STRING or the Airflow connection's, see orchestration/connections.py).
`delta_storage_options` turns one into the other: account key or SAS token, and the endpoint when it is not
Azure's own (Azurite, the emulator, in the tests).
"""

from __future__ import annotations

from pathlib import Path

from logistics_etl.settings import BLOB_SCHEMES, ConfigError


def is_blob_url(root: object) -> bool:
    return isinstance(root, str) and root.startswith(BLOB_SCHEMES)


def parse_connection_string(text: str) -> dict[str, str]:
    """`Key=Value;...` pairs of an Azure Storage connection string (values may hold '=', as SAS tokens do)."""
    pairs = {}
    for part in text.split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise ConfigError("AZURE_STORAGE_CONNECTION_STRING: not a connection string (Key=Value;... pairs): "
                              f"part {key.strip()[:20]!r} has no '='")
        pairs[key.strip()] = value.strip()
    return pairs


def delta_storage_options(connection_string: str) -> dict[str, str]:
    """delta-rs storage options for the account of an Azure Storage connection string."""
    pairs = parse_connection_string(connection_string)
    endpoint = pairs.get("BlobEndpoint", "").rstrip("/")
    azure_host = endpoint.endswith(".blob.core.windows.net")
    # an account URL names the account in its host (Azure) or in its path (the emulator's)
    account = pairs.get("AccountName") or (endpoint.split("//", 1)[-1].split(".", 1)[0] if azure_host
                                           else endpoint.rsplit("/", 1)[-1] if endpoint.count("/") > 2 else "")
    if not account:
        raise ConfigError("AZURE_STORAGE_CONNECTION_STRING: names no storage account (AccountName or BlobEndpoint)")
    options = {"account_name": account}
    if pairs.get("AccountKey"):
        options["account_key"] = pairs["AccountKey"]
    elif pairs.get("SharedAccessSignature"):
        options["sas_key"] = pairs["SharedAccessSignature"].lstrip("?")
    else:
        raise ConfigError("AZURE_STORAGE_CONNECTION_STRING: has neither AccountKey nor SharedAccessSignature")
    if endpoint and not azure_host:
        options["endpoint"] = endpoint
        if endpoint.startswith("http://"):
            options["allow_http"] = "true"
    return options


def upload(connection_string: str, path, uri: str) -> None:
    """Upload a local file to `abfs://<container>/<blob>` (a block blob appears whole or not at all)."""
    from azure.storage.blob import BlobServiceClient

    container, blob = uri.split("://", 1)[1].split("/", 1)
    client = BlobServiceClient.from_connection_string(connection_string)
    with open(path, "rb") as data:
        client.get_blob_client(container, blob).upload_blob(data, overwrite=True, max_concurrency=4)


def first_child(folder_uri: str, prefix: str, connection_string: str | None) -> str | None:
    """The first (by name) entry of a folder, local or `abfs://`, whose name starts with `prefix`; None if none
    (or the folder or container does not exist)."""
    if is_blob_url(folder_uri):
        from azure.core.exceptions import ResourceNotFoundError
        from azure.storage.blob import ContainerClient

        container, _, path = folder_uri.split("://", 1)[1].partition("/")
        client = ContainerClient.from_connection_string(connection_string, container)
        try:  # blobs are listed in name order: the first page of one is enough
            found = next(iter(client.list_blobs(name_starts_with=f"{path}/{prefix}", results_per_page=1)), None)
        except ResourceNotFoundError:
            return None
        return found.name[len(path) + 1:].split("/", 1)[0] if found else None
    folder = Path(folder_uri)
    if not folder.is_dir():
        return None
    return min((p.name for p in folder.iterdir() if p.name.startswith(prefix)), default=None)
