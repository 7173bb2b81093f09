"""The model registry on disk: immutable version folders and a ``champion`` pointer.

Layout under the models folder::

    models/
      v0001/                 one immutable folder per trained version
        model.txt            LightGBM's own text model (a tree model), or
        linear.json          a linear model's coefficients and input plan (engine.linear)
        features.json        the fitted feature builder's state
        policy.json          the tier policy (rules, frozen thresholds, confidence floor)
        playbook.toml        the playbook the version was trained with
        metadata.json        spec, data fingerprint, metrics, baselines, versions, created
        uplift.json          with a [treatment] spec only: the uplift learner and its files
        uplift_0.txt ...     with a [treatment] spec only: its LightGBM text models
        manifest.json        SHA-256 of each file above
      champion               the serving version's name; replaced by an atomic rename
      history.jsonl          append-only log of promotions and rollbacks

A version folder is written under a temporary name and renamed into place, so a reader
never sees half a version. Every load verifies every digest first; a mismatch is refused
(``ArtifactError``) and nothing is executed: no pickle is read on this path.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tierline.engine.errors import ArtifactError, NotFound

if TYPE_CHECKING:
    from tierline.engine.model import TierModel

__all__ = ["ARTIFACT_FILES", "MODEL_FILES", "Registry", "VersionInfo"]

# A version holds one model file (the selected candidate's kind) and the four others.
MODEL_FILES = ("model.txt", "linear.json")
_COMMON_FILES = ("features.json", "policy.json", "playbook.toml", "metadata.json")
ARTIFACT_FILES = ("model.txt", *_COMMON_FILES)  # a tree model's version
_VERSION_RE = re.compile(r"^v(\d{4,})$")


@dataclass(frozen=True)
class VersionInfo:
    version: str
    created: str
    target_kind: str
    metrics: Mapping[str, Any]
    champion: bool


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Registry:
    """Reads and writes model versions under one folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # -- reading -------------------------------------------------------------------------
    def versions(self) -> list[str]:
        """Version names, oldest first."""
        if not self.root.is_dir():
            return []
        found = [p.name for p in self.root.iterdir() if p.is_dir() and _VERSION_RE.match(p.name)]
        return sorted(found, key=lambda v: int(v[1:]))

    def champion(self) -> str | None:
        pointer = self.root / "champion"
        if not pointer.is_file():
            return None
        # A garbled pointer still yields a name, which then fails as an unknown version.
        name = pointer.read_text(encoding="utf-8", errors="replace").strip()
        return name or None

    def champion_stamp(self) -> tuple[int, int, int] | None:
        """What changes when the pointer is replaced (its inode, mtime and size; None when
        there is none): one ``stat``, cheap enough to ask several times a second."""
        return _stamp(self.root / "champion")

    def versions_stamp(self) -> tuple[int, int, int] | None:
        """What changes when a version folder is added or removed (the models folder's
        stat, as ``champion_stamp``; the pointer's replacement changes it too)."""
        return _stamp(self.root)

    def rollback_target(self) -> str | None:
        """The version a rollback would return to: the one the champion replaced, if any."""
        current = self.champion()
        for event in reversed(self.history()):
            if event.get("version") == current and event.get("action") != "rollback":
                previous = event.get("previous")
                return str(previous) if previous else None
        return None

    def info(self, version: str) -> VersionInfo:
        meta = self.metadata(version)
        return VersionInfo(
            version=version,
            created=str(meta.get("created", "")),
            target_kind=str(meta.get("spec", {}).get("target", {}).get("kind", "")),
            metrics=meta.get("metrics", {}),
            champion=version == self.champion(),
        )

    def metadata(self, version: str) -> dict[str, Any]:
        folder = self._folder(version)
        try:
            return dict(json.loads((folder / "metadata.json").read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise ArtifactError(
                f"Model version {version}: metadata.json cannot be read ({exc})"
            ) from exc

    def verify(self, version: str) -> dict[str, str]:
        """Check every file against the manifest; raise ``ArtifactError`` on any mismatch.
        Returns the manifest's digests by file name."""
        folder = self._folder(version)
        try:
            manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
            digests = dict(manifest["files"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ArtifactError(
                f"Model version {version} has no readable manifest.json; it was not loaded"
            ) from exc
        for name in _COMMON_FILES:
            if name not in digests:
                raise ArtifactError(
                    f"Model version {version}: the manifest does not list {name}; it was not loaded"
                )
        models = [name for name in MODEL_FILES if name in digests]
        if len(models) != 1:
            raise ArtifactError(
                f"Model version {version}: the manifest lists "
                f"{' and '.join(models) or 'no model file'}; a version holds exactly one of "
                f"{', '.join(MODEL_FILES)}; it was not loaded"
            )
        for name, expected in digests.items():
            path = folder / name
            if not path.is_file():
                raise ArtifactError(
                    f"Model version {version}: {name} is missing; it was not loaded"
                )
            if _sha256(path) != expected:
                raise ArtifactError(
                    f"Model version {version}: {name} does not match its SHA-256 in the manifest "
                    f"(tampered or corrupt); it was not loaded"
                )
        return digests

    def load(self, version: str | None = None, *, gates: bool = True) -> TierModel:
        """Verify and load a version (the champion when ``version`` is None), with the
        uplift models its playbook's ``give = "uplift"`` perks name (unless ``gates`` is
        False)."""
        # LightGBM, pandas and scikit-learn load here, not with the module: listing,
        # promoting and `tierline keys` start in a fraction of the time without them.
        import lightgbm as lgb

        from tierline.engine.features import FeatureBuilder
        from tierline.engine.linear import LinearModel
        from tierline.engine.model import TierModel
        from tierline.engine.playbook import Playbook
        from tierline.engine.spec import Spec
        from tierline.engine.tiers import TierPolicy

        if version is None:
            version = self.champion()
            if version is None:
                raise NotFound(
                    f"No champion model in {self.root}; train one with `tierline train` "
                    f"(it promotes automatically) or promote a version"
                )
        listed = self.verify(version)
        folder = self._folder(version)
        try:
            meta = json.loads((folder / "metadata.json").read_text(encoding="utf-8"))
            spec = Spec.from_dict(meta["spec"])
            features = FeatureBuilder.from_json(
                json.loads((folder / "features.json").read_text(encoding="utf-8"))
            )
            policy = TierPolicy.from_json(
                json.loads((folder / "policy.json").read_text(encoding="utf-8"))
            )
            playbook = Playbook.from_text(
                (folder / "playbook.toml").read_text(encoding="utf-8"),
                tiers=spec.tiers,
                source=f"{version}/playbook.toml",
            )
            if (folder / "linear.json").is_file():
                linear = LinearModel.from_json(
                    json.loads((folder / "linear.json").read_text(encoding="utf-8"))
                )
                booster, model_text = None, None
            else:
                model_text = (folder / "model.txt").read_text(encoding="utf-8")
                booster, linear = lgb.Booster(model_str=model_text), None
            uplift = None
            if spec.treatment is not None:
                from tierline.engine.uplift_model import UPLIFT_FILE, UpliftModel

                if UPLIFT_FILE not in listed:
                    raise ArtifactError(
                        f"Model version {version}: its spec has [treatment] but the manifest "
                        f"does not list {UPLIFT_FILE}; it was not loaded"
                    )
                uplift = UpliftModel.load(
                    folder, treatment=spec.treatment, listed=listed, version=version
                )
            model = TierModel(
                version=version,
                spec=spec,
                features=features,
                policy=policy,
                playbook=playbook,
                booster=booster,
                linear=linear,
                metadata=meta,
                model_text=model_text,
                uplift=uplift,
            )
        except ArtifactError:
            raise
        except Exception as exc:  # any failure to rebuild a verified version is an artifact problem
            raise ArtifactError(f"Model version {version} cannot be loaded: {exc}") from exc
        if gates and playbook.uplift_perks:
            from tierline.engine.perk_offer import load_gates

            # The deciding versions load without their own gates: one level, no cycles.
            model.perk_gates = load_gates(
                playbook,
                lambda v: self.load(v, gates=False),
                versions=self.versions(),
                source=f"{version}/playbook.toml",
            )
        return model

    def _folder(self, version: str) -> Path:
        if not _VERSION_RE.match(version) or not (self.root / version).is_dir():
            known = ", ".join(self.versions()) or "none"
            # No folder in the message: the API answers with it, and the server's paths are
            # nobody's business there.
            raise NotFound(f"Model version '{version}' does not exist (versions: {known})")
        return self.root / version

    # -- writing ------------------------------------------------------------------------------
    def write(
        self,
        *,
        booster_text: str | None = None,
        linear: Mapping[str, Any] | None = None,
        features: Mapping[str, Any],
        policy: Mapping[str, Any],
        playbook_text: str,
        metadata: Mapping[str, Any],
        extra_files: Mapping[str, str] | None = None,
    ) -> str:
        """Write a new immutable version folder and return its name; the model is LightGBM's
        text (``booster_text``) or a linear model's JSON (``linear``), exactly one.

        ``extra_files`` (name -> text, e.g. an uplift model's) are written, listed in the
        manifest and verified like the others."""
        if (booster_text is None) == (linear is None):
            raise ValueError("write takes exactly one of booster_text and linear")
        self.root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.root, prefix=".staging-"))
        try:
            model_file = (
                {"model.txt": booster_text}
                if booster_text is not None
                else {"linear.json": json.dumps(linear, indent=1, sort_keys=True)}
            )
            contents = {
                **model_file,
                "features.json": json.dumps(features, indent=1, sort_keys=True),
                "policy.json": json.dumps(policy, indent=1, sort_keys=True),
                "playbook.toml": playbook_text,
            }
            for name, text in (extra_files or {}).items():
                if name in (*ARTIFACT_FILES, *MODEL_FILES, "manifest.json") or "/" in name:
                    raise ValueError(f"extra artifact file {name!r} would overwrite another")
                contents[name] = text
            while True:  # a concurrent writer may take a number first; take the next one
                version = self._next_version()
                meta = dict(metadata, version=version)
                contents["metadata.json"] = json.dumps(meta, indent=1, sort_keys=True, default=str)
                for name, text in contents.items():
                    (staging / name).write_text(text, encoding="utf-8")
                manifest = {"files": {name: _sha256(staging / name) for name in contents}}
                (staging / "manifest.json").write_text(
                    json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8"
                )
                for name in (*contents, "manifest.json"):
                    with (staging / name).open("rb") as fh:
                        os.fsync(fh.fileno())
                    os.chmod(staging / name, 0o444)  # immutable by convention and by mode
                try:
                    os.rename(staging, self.root / version)
                except OSError:
                    if (self.root / version).exists():
                        for name in (*contents, "manifest.json"):
                            os.chmod(staging / name, 0o644)
                        continue
                    raise
                return version
        finally:
            if staging.exists():
                for p in staging.iterdir():
                    os.chmod(p, 0o644)
                    p.unlink()
                staging.rmdir()

    def _next_version(self) -> str:
        existing = self.versions()
        n = int(existing[-1][1:]) + 1 if existing else 1
        return f"v{n:04d}"

    def promote(self, version: str, *, reason: str = "promote") -> str | None:
        """Make ``version`` the champion (verified first); returns the previous champion."""
        self.verify(version)
        previous = self.champion()
        _write_atomic(self.root / "champion", version + "\n")
        self._log(action=reason, version=version, previous=previous)
        return previous

    def rollback(self) -> str:
        """Return the champion to the version it replaced; returns the new champion."""
        current = self.champion()
        if current is None:
            raise NotFound("No champion yet, so there is nothing to roll back")
        previous = self.rollback_target()
        if previous is None:
            raise NotFound(f"Champion {current} has no earlier champion to roll back to")
        self.verify(previous)
        _write_atomic(self.root / "champion", previous + "\n")
        self._log(action="rollback", version=previous, previous=current)
        return previous

    def history(self) -> list[dict[str, Any]]:
        path = self.root / "history.jsonl"
        if not path.is_file():
            return []
        events = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                continue  # a torn last line after a crash: skip it, keep the rest
        return events

    def _log(self, *, action: str, version: str, previous: str | None) -> None:
        event = {
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "action": action,
            "version": version,
            "previous": previous,
        }
        with (self.root / "history.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(event) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
