"""MES verdicts (release / hold / reject / pending) per lot: computed from holds, cached in Redis write-through."""
