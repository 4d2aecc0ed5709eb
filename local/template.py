"""Reads ``template.yaml`` (CloudFormation short-form tags included) and resolves the few intrinsics the local stack
needs (``Ref``, ``GetAtt``, ``Sub``) against the resources it created. Plain PyYAML and the standard library only, so
both the project's environment and the SAM CLI's can import it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    pass


def _tag(name: str) -> Callable[[yaml.Loader, yaml.Node], dict[str, Any]]:
    def construct(loader: yaml.Loader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    return construct


for _short in ("Ref", "Condition"):
    _CfnLoader.add_constructor(f"!{_short}", _tag(_short))
for _short in ("GetAtt", "Sub", "Join", "Select", "Split", "If", "Equals", "Not", "And", "Or", "FindInMap",
               "ImportValue", "GetAZs", "Base64", "Cidr"):
    _CfnLoader.add_constructor(f"!{_short}", _tag(f"Fn::{_short}"))


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass with CloudFormation tags


PSEUDO_PARAMETERS = {"AWS::Region": "us-east-1", "AWS::Partition": "aws", "AWS::AccountId": "123456789012",
                     "AWS::URLSuffix": "amazonaws.com", "AWS::StackName": "eraser-local"}


class Resolver:
    """Resolves intrinsics: ``refs`` maps parameters and resources to their ``Ref`` value, ``attributes`` maps
    ``(resource, attribute)`` to a ``GetAtt`` value."""

    def __init__(self, refs: dict[str, Any], attributes: dict[tuple[str, str], Any]) -> None:
        # The caller keeps filling ``refs`` and ``attributes`` as it creates resources, so hold them, not copies.
        for name, value in PSEUDO_PARAMETERS.items():
            refs.setdefault(name, value)
        self.refs = refs
        self.attributes = attributes

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            (name, argument), = value.items()
            if name == "Ref":
                return self.refs.get(argument, argument)
            if name == "Fn::GetAtt":
                resource, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
                return self.attributes.get((resource, attribute), f"{resource}.{attribute}")
            if name == "Fn::Sub":
                text, extra = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
                return re.sub(r"\$\{([^}]+)\}", lambda match: str(self._sub_value(match.group(1), extra)), text)
        if isinstance(value, dict):
            return {key: self(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self(item) for item in value]
        return value

    def _sub_value(self, name: str, extra: dict[str, Any]) -> Any:
        if name in extra:
            return self(extra[name])
        if "." in name:
            resource, attribute = name.split(".", 1)
            return self.attributes.get((resource, attribute), name)
        return self.refs.get(name, name)


def parameter_defaults(template: dict[str, Any]) -> dict[str, Any]:
    return {name: spec.get("Default", "") for name, spec in template.get("Parameters", {}).items()}


def resources_of_type(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: resource for name, resource in template.get("Resources", {}).items()
            if resource.get("Type") == resource_type}
