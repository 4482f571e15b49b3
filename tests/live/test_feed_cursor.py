"""The per-page cursor: the highest id sent, and the ids sent within the overlap below it (late commits)."""
from qms.live.feed import OVERLAP_IDS, FeedCursor, is_shelved


def test_the_cursor_moves_to_the_highest_id_sent():
    feed = FeedCursor(site_id=1, line_id=None, cursor=10)
    feed.mark_sent([12, 11, 15])
    assert feed.cursor == 15 and feed.seen == {11, 12, 15}


def test_a_late_lower_id_does_not_move_the_cursor_back():
    feed = FeedCursor(site_id=1, line_id=None, cursor=15, seen={15})
    feed.mark_sent([13])
    assert feed.cursor == 15 and 13 in feed.seen


def test_ids_below_the_overlap_are_forgotten():
    feed = FeedCursor(site_id=1, line_id=None, cursor=0)
    feed.mark_sent([1, 2, OVERLAP_IDS + 5])
    assert feed.cursor == OVERLAP_IDS + 5
    assert feed.seen == {OVERLAP_IDS + 5}  # 1 and 2 lie more than OVERLAP_IDS below the cursor


def test_a_snapshot_shelved_until_the_past_no_longer_counts_as_shelved():
    assert is_shelved({"shelved_until": "2000-01-01T00:00:00+00:00"}) is False
    assert is_shelved({"shelved_until": "2999-01-01T00:00:00+00:00"}) is True
    assert is_shelved({"shelved_until": None}) is False
