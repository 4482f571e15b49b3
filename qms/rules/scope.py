"""Which characteristics and which equipment a rule covers: the union of its chosen characteristics, pattern matches,
equipment and lines; a rule with no scope at all covers the whole site."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase


@dataclass(frozen=True, slots=True)
class CharacteristicInfo:
    id: int
    code: str
    equipment_id: int | None = None
    line_id: int | None = None


@dataclass(frozen=True, slots=True)
class RuleScope:
    characteristic_ids: frozenset[int] = frozenset()
    pattern: str = ""
    equipment_ids: frozenset[int] = frozenset()
    line_ids: frozenset[int] = frozenset()

    @property
    def site_wide(self) -> bool:
        return not (self.characteristic_ids or self.pattern or self.equipment_ids or self.line_ids)

    def covers(self, characteristic: CharacteristicInfo) -> bool:
        if self.site_wide:
            return True
        return (
            characteristic.id in self.characteristic_ids
            or (bool(self.pattern) and fnmatchcase(characteristic.code, self.pattern))
            or (characteristic.equipment_id is not None and characteristic.equipment_id in self.equipment_ids)
            or (characteristic.line_id is not None and characteristic.line_id in self.line_ids)
        )


def characteristics_in_scope(scope: RuleScope,
                             characteristics: Iterable[CharacteristicInfo]) -> list[CharacteristicInfo]:
    return [characteristic for characteristic in characteristics if scope.covers(characteristic)]


def pattern_matches(pattern: str, codes: Iterable[str]) -> list[str]:
    """The codes a shell-style pattern (case-sensitive, like the codes) selects."""
    return [code for code in codes if fnmatchcase(code, pattern)]


def equipment_in_scope(scope: RuleScope, equipment: Iterable[tuple[int, int | None]],
                       characteristics: Iterable[CharacteristicInfo]) -> set[int]:
    """Equipment (id, line id) a state rule watches: chosen machines, machines of chosen lines, and machines whose
    characteristics the rule covers by choice or pattern. Site-wide: every machine."""
    equipment = list(equipment)
    if scope.site_wide:
        return {equipment_id for equipment_id, _line_id in equipment}
    chosen = {equipment_id for equipment_id, line_id in equipment
              if equipment_id in scope.equipment_ids or (line_id is not None and line_id in scope.line_ids)}
    for characteristic in characteristics:
        if characteristic.equipment_id is None:
            continue
        if characteristic.id in scope.characteristic_ids or (
                scope.pattern and fnmatchcase(characteristic.code, scope.pattern)):
            chosen.add(characteristic.equipment_id)
    return chosen
