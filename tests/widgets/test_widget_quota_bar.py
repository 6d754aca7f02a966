"""QuotaBar: the text users read and the colour level at the 80% / 95% thresholds."""

from __future__ import annotations

from widget_host import Host, drawn_text

from widgets import QuotaBar


async def test_quota_text_and_levels_follow_used_bytes() -> None:
    app = Host(lambda: [QuotaBar(12_345_678, 1_000_000_000)])
    async with app.run_test(size=(80, 3)) as pilot:
        bar = app.query_one(QuotaBar)
        await pilot.pause()
        assert "12.3 MB of 1.0 GB (1.2%)" in drawn_text(bar)
        assert bar.level == "ok"

        bar.used = 850_000_000
        await pilot.pause()
        assert "850.0 MB of 1.0 GB (85.0%)" in drawn_text(bar)
        assert bar.level == "warn"

        bar.used = 990_000_000
        await pilot.pause()
        assert bar.level == "critical"
        # The summary is drawn in the critical colour, which differs from the warn one.
        warn = bar.get_component_rich_style("quota-bar--warn")
        critical = bar.get_component_rich_style("quota-bar--critical")
        assert warn.color != critical.color
        summary_style = bar.render().spans[-1].style
        assert summary_style == critical


async def test_unknown_limit_says_unknown_and_draws_no_fill() -> None:
    app = Host(lambda: [QuotaBar(5_000, None)])
    async with app.run_test(size=(60, 3)) as pilot:
        bar = app.query_one(QuotaBar)
        await pilot.pause()
        text = drawn_text(bar)
        assert "5.0 kB of unknown" in text
        assert "█" not in text
        assert bar.level == "unknown"


async def test_models_and_checkpoints_are_shown_beside_the_files_but_not_counted() -> None:
    app = Host(lambda: [QuotaBar(312_345_678, 1_000_000_000, others=1_100_000_000)])
    async with app.run_test(size=(100, 3)) as pilot:
        bar = app.query_one(QuotaBar)
        await pilot.pause()
        text = drawn_text(bar)
        assert "files 312.3 MB of 1.0 GB (31.2%) + models/checkpoints 1.1 GB" in text
        # The level follows the files only: 1.1 GB of models does not make it critical.
        assert bar.level == "ok"
        assert "▒" in text and "█" in text  # files, then models/checkpoints in their shade
        bar.others = 0
        await pilot.pause()
        assert "models/checkpoints" not in drawn_text(bar) and "▒" not in drawn_text(bar)
