#!/usr/bin/env python3
"""Regenerates tests/fixtures/formats/: the field names of the configuration classes that
`qis recommend --format peft|axolotl|trl` writes, read from the libraries' own source.

peft, trl, transformers and axolotl all pull in torch, so they are never installed: their
pinned wheels are downloaded without dependencies (`pip download --no-deps`), opened as zip
files, and each class is read with Python's `ast` module, never imported. A class's fields
are its annotated class attributes (dataclass fields, pydantic model fields) plus those of its
base classes, followed through the packages' own imports; names starting with `_`, `ClassVar`
annotations and `field(init=False)` are left out (they are not keyword arguments). An enum's
values are the string constants assigned in its body.

Usage: python3 tools/formats/extract_fields.py [--wheels DIR] [--out DIR]
  --wheels DIR  read the wheels from DIR instead of downloading them
  --out DIR     where to write the lists (default: tests/fixtures/formats)
"""

import argparse
import ast
import pathlib
import subprocess
import sys
import tempfile
import zipfile

# The pinned versions (the newest on PyPI when the fixtures were made).
PINS = {
    "peft": "0.21.2",
    "transformers": "5.24.0",
    "trl": "1.16.0",
    "axolotl": "0.19.0",
}

# (fixture file, package, module, class, kind): kind "fields" or "enum".
TARGETS = [
    ("peft-LoraConfig.txt", "peft", "peft.tuners.lora.config", "LoraConfig", "fields"),
    ("peft-TaskType.txt", "peft", "peft.utils.peft_types", "TaskType", "enum"),
    ("transformers-TrainingArguments.txt", "transformers", "transformers.training_args", "TrainingArguments", "fields"),
    ("transformers-OptimizerNames.txt", "transformers", "transformers.training_args", "OptimizerNames", "enum"),
    ("transformers-SchedulerType.txt", "transformers", "transformers.trainer_utils", "SchedulerType", "enum"),
    ("trl-SFTConfig.txt", "trl", "trl.trainer.sft_config", "SFTConfig", "fields"),
    ("trl-DPOConfig.txt", "trl", "trl.trainer.dpo_config", "DPOConfig", "fields"),
    ("trl-KTOConfig.txt", "trl", "trl.trainer.kto_config", "KTOConfig", "fields"),
    ("trl-GRPOConfig.txt", "trl", "trl.trainer.grpo_config", "GRPOConfig", "fields"),
    ("trl-ORPOConfig.txt", "trl", "trl.experimental.orpo.orpo_config", "ORPOConfig", "fields"),
    ("trl-CPOConfig.txt", "trl", "trl.experimental.cpo.cpo_config", "CPOConfig", "fields"),
    ("axolotl-AxolotlInputConfig.txt", "axolotl", "axolotl.utils.schemas.config", "AxolotlInputConfig", "fields"),
    ("axolotl-RLType.txt", "axolotl", "axolotl.utils.schemas.enums", "RLType", "enum"),
]


def download(directory):
    pins = [f"{name}=={version}" for name, version in PINS.items()]
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", directory, *pins],
        check=True,
    )


def wheel_of(directory, package):
    version = PINS[package]
    matches = sorted(pathlib.Path(directory).glob(f"{package}-{version}-*.whl"))
    if not matches:
        sys.exit(f"no {package}-{version} wheel in {directory}: download it with pip download --no-deps {package}=={version}")
    return matches[0]


class Sources:
    """The Python modules of every wheel, by dotted name, parsed on demand."""

    def __init__(self, wheels):
        self.files = {}  # module name -> (wheel file name, path in the wheel, text)
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as archive:
                for name in archive.namelist():
                    if not name.endswith(".py") or ".dist-info/" in name:
                        continue
                    module = name[: -len(".py")].replace("/", ".")
                    if module.endswith(".__init__"):
                        module = module[: -len(".__init__")]
                    self.files[module] = (wheel.name, name, archive.read(name).decode("utf-8"))
        self.parsed = {}

    def tree(self, module):
        if module not in self.parsed:
            self.parsed[module] = ast.parse(self.files[module][2]) if module in self.files else None
        return self.parsed[module]

    def is_package(self, module):
        return self.files.get(module, ("", "", ""))[1].endswith("__init__.py")

    def resolve(self, module, name, seen=None):
        """The (module, class node) that `name` means inside `module`, following imports."""
        seen = seen or set()
        if (module, name) in seen:
            return None
        seen.add((module, name))
        tree = self.tree(module)
        if tree is None:
            return None
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and node.name == name:
                return module, node
        for node in top_level(tree.body):
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if (alias.asname or alias.name) != name:
                        continue
                    source = self.absolute(module, node)
                    found = self.resolve(source, alias.name, seen)
                    if found is None and f"{source}.{alias.name}" in self.files:
                        return None  # a submodule, not a class
                    if found is not None:
                        return found
        return None

    def absolute(self, module, node):
        if node.level == 0:
            return node.module
        parts = module.split(".")
        # A package's own __init__ counts as one level deeper than its name says.
        base = parts if self.is_package(module) else parts[:-1]
        base = base[: len(base) - (node.level - 1)]
        return ".".join(base + ([node.module] if node.module else []))


def top_level(statements):
    """A module's statements, with those inside top-level `if`/`try` blocks (`if
    TYPE_CHECKING:` imports, as transformers' lazy `__init__` has them)."""
    for statement in statements:
        yield statement
        if isinstance(statement, ast.If):
            yield from top_level(statement.body + statement.orelse)
        elif isinstance(statement, ast.Try):
            yield from top_level(statement.body + statement.orelse)


def base_name(expression):
    if isinstance(expression, ast.Name):
        return expression.id
    if isinstance(expression, ast.Attribute):
        return expression.attr
    return None


def is_excluded(statement):
    annotation = ast.unparse(statement.annotation)
    if "ClassVar" in annotation:
        return True
    value = statement.value
    if isinstance(value, ast.Call) and base_name(value.func) == "field":
        for keyword in value.keywords:
            if keyword.arg == "init" and isinstance(keyword.value, ast.Constant) and keyword.value.value is False:
                return True
    return False


def fields(sources, module, node, seen=None):
    """The keyword fields of a class and its bases (bases outside the wheels add nothing)."""
    seen = seen or set()
    names = set()
    for base in node.bases:
        name = base_name(base)
        found = sources.resolve(module, name) if name else None
        if found is not None and (found[0], found[1].name) not in seen:
            seen.add((found[0], found[1].name))
            names |= fields(sources, found[0], found[1], seen)
    for statement in node.body:
        if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
            name = statement.target.id
            if name.startswith("_") or name == "model_config" or is_excluded(statement):
                continue
            names.add(name)
    return names


def enum_values(node):
    values = set()
    for statement in node.body:
        if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Constant):
            if isinstance(statement.value.value, str) and not statement.targets[0].id.startswith("_"):
                values.add(statement.value.value)
    return values


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", help="a directory holding the pinned wheels")
    parser.add_argument("--out", default="tests/fixtures/formats")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        directory = args.wheels
        if directory is None:
            directory = scratch
            download(directory)
        wheels = [wheel_of(directory, package) for package in PINS]
        sources = Sources(wheels)
        out = pathlib.Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        for file_name, package, module, class_name, kind in TARGETS:
            found = sources.resolve(module, class_name)
            if found is None:
                sys.exit(f"{class_name} not found in {module} ({package}=={PINS[package]})")
            names = fields(sources, *found) if kind == "fields" else enum_values(found[1])
            wheel, path, _ = sources.files[found[0]]
            header = [
                f"# {kind} of {class_name}, {package}=={PINS[package]}, {path} in {wheel}",
                "# made by tools/formats/extract_fields.py (ast, never imported); one name a line",
            ]
            (out / file_name).write_text("\n".join(header + sorted(names)) + "\n")
            print(f"{file_name}: {len(names)} {kind}")


if __name__ == "__main__":
    main()
