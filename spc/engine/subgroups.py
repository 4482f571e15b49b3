"""Subgroup statistics that do not depend on how many subgroups are computed together.

Means and standard deviations are summed column by column in a fixed order (and NaN padding adds an exact zero),
so a subgroup's statistics are bit-for-bit the same whether it is computed alone (live, as it arrives) or among a
million others of mixed sizes (batch). Means are taken relative to the first value, so a constant subgroup has
exactly that constant as its mean (a plain sum/n can miss it in the last bit and then "drift" off the centre line).
"""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Subgroups:
    padded: np.ndarray  # (k, width) float64, NaN beyond each subgroup's size
    sizes: np.ndarray  # (k,) int64

    @classmethod
    def from_lists(cls, groups) -> "Subgroups":
        sizes = np.fromiter((len(g) for g in groups), dtype=np.int64, count=len(groups))
        width = int(sizes.max()) if sizes.size else 0
        if sizes.size and int(sizes.min()) == width:
            padded = np.asarray(groups, dtype=np.float64).reshape(len(groups), width)
        else:
            padded = np.full((len(groups), width), np.nan)
            for row, group in enumerate(groups):
                padded[row, : len(group)] = group
        return cls(padded, sizes)

    def __len__(self) -> int:
        return int(self.sizes.size)

    def take(self, index) -> "Subgroups":
        padded, sizes = self.padded[index], self.sizes[index]
        width = int(sizes.max()) if sizes.size else 0
        return Subgroups(padded[:, :width], sizes)

    def values(self) -> np.ndarray:
        """All observations, subgroup by subgroup."""
        return self.padded[np.arange(self.padded.shape[1])[None, :] < self.sizes[:, None]]

    def means(self) -> np.ndarray:
        first = self.padded[:, 0]
        deviations = self.padded - first[:, None]
        total = np.zeros(len(self))
        ragged = self._ragged()
        for j in range(self.padded.shape[1]):
            total += np.where(j < self.sizes, deviations[:, j], 0.0) if ragged else deviations[:, j]
        return first + total / self.sizes

    def ranges(self) -> np.ndarray:
        return np.fmax.reduce(self.padded, axis=1) - np.fmin.reduce(self.padded, axis=1)

    def stdevs(self) -> np.ndarray:
        deviations = self.padded - self.means()[:, None]
        squares = np.zeros(len(self))
        ragged = self._ragged()
        for j in range(self.padded.shape[1]):
            column = deviations[:, j]
            squares += np.where(j < self.sizes, column * column, 0.0) if ragged else column * column
        return np.sqrt(squares / (self.sizes - 1))

    def _ragged(self) -> bool:
        # Without padding the mask is all True and adding the column directly is the identical operation.
        return bool(self.sizes.size) and int(self.sizes.min()) != self.padded.shape[1]
