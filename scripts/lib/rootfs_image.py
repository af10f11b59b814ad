#!/usr/bin/env python3
"""Wrap a root file system tar into a `docker load` archive whose image config names the
architecture (and variant): `docker import --platform` of Debian's 20.10 engine keeps only the OS
and records the host's architecture, so `docker run --platform linux/arm64` would try to pull.

    rootfs_image.py ROOTFS.tar OUT.tar NAME:TAG ARCH [VARIANT] [--label KEY=VALUE]...

ARCH/VARIANT as Docker spells them: amd64, arm64 v8, arm v7. Used by scripts/lib/engine.sh.
Standard library only; the layer is copied once (about 100 MB for a minbase root).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import tarfile
import time


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("rootfs")
    p.add_argument("out")
    p.add_argument("tag")
    p.add_argument("arch")
    p.add_argument("variant", nargs="?", default="")
    p.add_argument("--label", action="append", default=[])
    a = p.parse_args()

    digest = hashlib.sha256()
    with open(a.rootfs, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    diff_id = "sha256:" + digest.hexdigest()
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    config = {
        "architecture": a.arch,
        "os": "linux",
        "created": created,
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["/bin/bash"],
            "Labels": dict(item.split("=", 1) for item in a.label),
        },
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "created_by": "debootstrap --variant=minbase bookworm (test stand-in)"}],
    }
    if a.variant:
        config["variant"] = a.variant
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    layer_name = digest.hexdigest() + "/layer.tar"
    manifest = [{"Config": config_name, "RepoTags": [a.tag], "Layers": [layer_name]}]

    def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mtime = int(time.time())
        tar.addfile(info, io.BytesIO(data))

    with tarfile.open(a.out, "w") as tar:
        add_bytes(tar, config_name, config_bytes)
        tar.add(a.rootfs, arcname=layer_name)
        add_bytes(tar, "manifest.json", json.dumps(manifest).encode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
