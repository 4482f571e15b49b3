"""Report arithmetic without Django: Pareto with cumulative shares, counts per period, age buckets, and the SVG
drawings of them. The query layer (qms.services.reports) feeds plain values in; views render what comes out."""
