"""The ``csv`` platform: files in tmp_path and URLs on the fake API (kpiwatch.testing)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pydantic
import pytest
import time_machine

import kpiwatch_platforms.csv as plugin
from kpiwatch.config_loader import load_config_text
from kpiwatch.platform import Sample
from kpiwatch.plugins import PluginRegistry
from kpiwatch.testing import FakeApi, Reply, run_collect
from kpiwatch_platforms.csv import PLATFORM
from kpiwatch_platforms.csv.cells import CellError, NumberFormat
from kpiwatch_platforms.csv.collect import read_table
from kpiwatch_platforms.csv.settings import CsvSettings
from kpiwatch_platforms.csv.source import Document

UTC_DAY = timedelta(days=1)


def at(text: str) -> datetime:
    """A UTC time written as 2025-01-07 or 2025-01-06T23:00."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def rows(samples: list[Sample]) -> set[tuple[str, float, str | None, tuple, datetime | None]]:
    return {
        (s.metric, round(s.value, 6), s.window, tuple(sorted(s.dims.items())), s.timestamp)
        for s in samples
    }


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


MONEY = """date,Revenue,Ad spend,Orders
2025-01-06,1234.5,200,3
2025-01-07,980,150.25,
"""
MONEY_COLUMNS = [
    {"column": "Revenue", "metric": "revenue", "dims": {"currency": "EUR"}},
    {"column": "Ad spend", "metric": "spend", "dims": {"currency": "EUR", "campaign": "winter"}},
    {"column": "Orders", "metric": "orders"},
]


# files --------------------------------------------------------------------------------------


async def test_revenue_and_ad_spend_rows_become_daily_history(tmp_path: Path):
    source = write(tmp_path / "money.csv", MONEY)
    run = await run_collect(PLATFORM, {"path": str(source), "columns": MONEY_COLUMNS})

    eur, winter = (("currency", "EUR"),), (("campaign", "winter"), ("currency", "EUR"))
    assert rows(run.samples) == {
        # a row's date is the day its figures cover; the 1d window ends at the next midnight
        ("revenue", 1234.5, "1d", eur, at("2025-01-07")),
        ("revenue", 980.0, "1d", eur, at("2025-01-08")),
        ("spend", 200.0, "1d", winter, at("2025-01-07")),
        ("spend", 150.25, "1d", winter, at("2025-01-08")),
        ("orders", 3.0, "1d", (), at("2025-01-07")),  # the empty cell is no value, not 0
    }
    assert run.state["csv_import"]["rows"] == 2 and run.state["csv_import"]["skipped"] == 0


async def test_semicolons_decimal_commas_and_a_local_time_zone(tmp_path: Path):
    source = write(
        tmp_path / "umsatz.csv",
        "Datum;Umsatz;Werbekosten\n06.01.2025;1.234,50;€ 99,90\n07.01.2025;(12,00);0\n",
        encoding="cp1252",
    )
    run = await run_collect(
        PLATFORM,
        {
            "path": str(source),
            "encoding": "cp1252",
            "decimal": ",",
            "thousands": ".",
            "date": {"column": "Datum", "format": "%d.%m.%Y", "timezone": "Europe/Berlin"},
            "columns": [
                {"column": "Umsatz", "metric": "revenue", "dims": {"currency": "EUR"}},
                {"column": "Werbekosten", "metric": "spend", "dims": {"currency": "EUR"}},
            ],
        },
    )
    eur = (("currency", "EUR"),)
    assert rows(run.samples) == {
        # Berlin's midnight ending 6 January is 23:00 UTC (CET, UTC+1)
        ("revenue", 1234.5, "1d", eur, at("2025-01-06T23:00")),
        ("spend", 99.9, "1d", eur, at("2025-01-06T23:00")),
        ("revenue", -12.0, "1d", eur, at("2025-01-07T23:00")),  # a refund, in brackets
        ("spend", 0.0, "1d", eur, at("2025-01-07T23:00")),
    }


async def test_nps_and_csat_answers_are_counted_per_day(tmp_path: Path):
    source = write(
        tmp_path / "survey.csv",
        "submitted_at,nps,csat,comment\n"
        "2025-01-06T09:15:00Z,10,5,great\n"
        "2025-01-06T11:40:00Z,9,4,\n"
        "2025-01-06T16:05:00Z,7,2,slow delivery\n"
        "2025-01-07T08:00:00Z,3,,\n"
        "2025-01-07T23:30:00Z,8,3,late answer: the 8th in Berlin\n",
    )
    run = await run_collect(
        PLATFORM,
        {
            "path": str(source),
            "date": {"column": "submitted_at", "timezone": "Europe/Berlin"},
            "answers": [{"column": "nps", "survey": "nps"}, {"column": "csat", "survey": "csat"}],
        },
    )
    day6, day7, day8 = at("2025-01-06T23:00"), at("2025-01-07T23:00"), at("2025-01-08T23:00")
    assert rows(run.samples) == {
        ("nps_promoters", 2.0, "1d", (), day6),
        ("nps_passives", 1.0, "1d", (), day6),
        ("nps_detractors", 0.0, "1d", (), day6),  # an answered day has all three, zeros too
        ("csat_responses", 3.0, "1d", (), day6),
        ("csat_satisfied", 2.0, "1d", (), day6),
        ("nps_promoters", 0.0, "1d", (), day7),
        ("nps_passives", 0.0, "1d", (), day7),
        ("nps_detractors", 1.0, "1d", (), day7),
        ("nps_promoters", 0.0, "1d", (), day8),
        ("nps_passives", 1.0, "1d", (), day8),
        ("nps_detractors", 0.0, "1d", (), day8),
        ("csat_responses", 1.0, "1d", (), day8),
        ("csat_satisfied", 0.0, "1d", (), day8),
    }


async def test_leads_from_a_crm_export_are_counted_per_day_and_source(tmp_path: Path):
    source = write(
        tmp_path / "leads.csv",
        "created,email,source\n"
        "2025-01-06 10:00,a@example.com,newsletter\n"
        "2025-01-06 12:00,b@example.com,google\n"
        "2025-01-06 17:00,c@example.com,newsletter\n"
        "2025-01-07 09:00,d@example.com,google\n",
    )
    run = await run_collect(
        PLATFORM,
        {
            "path": str(source),
            "date": {"column": "created", "format": "%Y-%m-%d %H:%M"},
            "columns": [
                {"metric": "conversions", "count": True, "dim_columns": {"source": "source"}}
            ],
        },
    )
    assert rows(run.samples) == {
        ("conversions", 2.0, "1d", (("source", "newsletter"),), at("2025-01-07")),
        ("conversions", 1.0, "1d", (("source", "google"),), at("2025-01-07")),
        ("conversions", 1.0, "1d", (("source", "google"),), at("2025-01-08")),
    }


async def test_long_format_with_metric_names_and_weekly_rows(tmp_path: Path):
    source = write(
        tmp_path / "kpis.csv",
        "week;metric;value;currency;window\n"
        "2025-01-06;Umsatz;5400,5;EUR;7d\n"
        "2025-01-06;Neukunden;12;;\n"
        "2025-01-12;Kunden;340;;\n",
    )
    run = await run_collect(
        PLATFORM,
        {
            "path": str(source),
            "decimal": ",",
            "date": {"column": "week"},
            "long": {
                "window_column": "window",
                "window": "7d",  # for period rows with an empty window cell
                "dim_columns": {"currency": "currency"},
                "names": {"Umsatz": "revenue", "Neukunden": "customers_new", "Kunden": "customers"},
            },
        },
    )
    assert rows(run.samples) == {
        # the week starting Monday 6 January ends at the midnight after Sunday the 12th
        ("revenue", 5400.5, "7d", (("currency", "EUR"),), at("2025-01-13")),
        ("customers_new", 12.0, "7d", (), at("2025-01-13")),
        ("customers", 340.0, None, (), at("2025-01-13")),  # a level: at the end of its day
    }


async def test_dates_marking_the_end_of_a_week(tmp_path: Path):
    source = write(tmp_path / "weekly.csv", "week_ending,clicks\n2025-01-12,77\n")
    run = await run_collect(
        PLATFORM,
        {
            "path": str(source),
            "date": {"column": "week_ending", "marks": "end"},
            "columns": [{"column": "clicks", "metric": "clicks", "window": "7d"}],
        },
    )
    assert rows(run.samples) == {("clicks", 77.0, "7d", (), at("2025-01-13"))}


# change detection ---------------------------------------------------------------------------


async def test_an_unchanged_file_gives_nothing_new_and_a_changed_one_everything(tmp_path):
    source = write(tmp_path / "money.csv", MONEY)
    settings = {"path": str(source), "columns": MONEY_COLUMNS}
    state: dict = {}

    first = await run_collect(PLATFORM, settings, state=state)
    assert len(first.samples) == 5

    second = await run_collect(PLATFORM, settings, state=state)
    assert second.ok and second.samples == []  # the history already holds every row

    write(source, MONEY + "2025-01-08,500,80,1\n")
    third = await run_collect(PLATFORM, settings, state=state)
    assert len(third.samples) == 8
    assert third.values("revenue") == [1234.5, 980.0, 500.0]

    # the same size, another time: read again
    write(source, MONEY.replace("1234.5", "1234.6") + "2025-01-08,500,80,1\n")
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    fourth = await run_collect(PLATFORM, settings, state=state)
    assert sorted(fourth.values("revenue")) == [500.0, 980.0, 1234.6]

    # a changed mapping imports again without any change to the file
    changed = {"path": str(source), "columns": MONEY_COLUMNS[:1]}
    fifth = await run_collect(PLATFORM, changed, state=state)
    assert sorted(fifth.values("revenue")) == [500.0, 980.0, 1234.6]


async def test_a_pattern_reads_every_matching_file(tmp_path: Path):
    write(tmp_path / "nps-2025-01.csv", "date,score\n2025-01-06,10\n")
    write(tmp_path / "nps-2025-02.csv", "date,score\n2025-02-03,2\n")
    write(tmp_path / "other.csv", "date,score\n2025-03-03,9\n")
    settings = {
        "path": str(tmp_path / "nps-*.csv"),
        "answers": [{"column": "score", "survey": "nps"}],
    }
    state: dict = {}
    run = await run_collect(PLATFORM, settings, state=state)
    assert run.values("nps_promoters") == [1.0, 0.0]
    assert run.values("nps_detractors") == [0.0, 1.0]

    write(tmp_path / "nps-2025-03.csv", "date,score\n2025-03-03,8\n")  # a new export
    again = await run_collect(PLATFORM, settings, state=state)
    assert again.values("nps_passives") == [0.0, 0.0, 1.0]


async def test_rows_of_a_day_not_over_wait_for_its_midnight(tmp_path: Path):
    now = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    source = write(
        tmp_path / "today.csv",
        "date,Revenue,Customers\n2026-11-22,100,40\n2026-11-23,55,41\n2026-11-24,,42\n",
    )
    settings = {
        "path": str(source),
        "columns": [
            {"column": "Revenue", "metric": "revenue", "dims": {"currency": "EUR"}},
            {"column": "Customers", "metric": "customers"},
        ],
    }
    state: dict = {}
    with time_machine.travel(now, tick=False):
        run = await run_collect(PLATFORM, settings, state=state)
        assert rows(run.samples) == {
            ("revenue", 100.0, "1d", (("currency", "EUR"),), at("2026-11-23")),
            ("customers", 40.0, None, (), at("2026-11-23")),
        }
        assert state["csv_import"]["reread_at"] == at("2026-11-24").timestamp()
        assert (await run_collect(PLATFORM, settings, state=state)).samples == []
    with time_machine.travel(now + UTC_DAY, tick=False):  # the file did not change
        later = await run_collect(PLATFORM, settings, state=state)
        assert rows(later.samples) >= {
            ("revenue", 55.0, "1d", (("currency", "EUR"),), at("2026-11-24")),
            ("customers", 41.0, None, (), at("2026-11-24")),
            ("customers", 42.0, None, (), now + UTC_DAY),  # today's level: now, not midnight
        }


# row errors ---------------------------------------------------------------------------------

BROKEN = """date,Revenue,Orders
2025-01-06,100,2
06/01/2025,90,1
2025-01-07,12x,1
2025-01-08,50,-3
2025-01-09,"75,1

2025-01-10,60,4
"""


def test_row_errors_say_file_line_column_and_fix():
    settings = CsvSettings.model_validate(
        {
            "path": "shop.csv",
            "columns": [
                {"column": "Revenue", "metric": "revenue", "dims": {"currency": "USD"}},
                {"column": "Orders", "metric": "orders"},
            ],
        }
    )
    table = read_table(settings, [Document("shop.csv", BROKEN.encode())], datetime.now(UTC))
    assert [str(e) for e in table.errors] == [
        "shop.csv:3:1: column 'date': '06/01/2025' is not a date in the format ISO-8601; "
        "write dates like 2026-03-05 (or 2026-03-05T14:30), or set date.format",
        "shop.csv:4:2: column 'Revenue': '12x': it is not a number; write numbers like 1234.5",
        "shop.csv:5:3: column 'Orders': -3 is negative and orders counts things; "
        "write 0 or a positive number",
        "shop.csv:6: the row cannot be read (unexpected end of data); "
        'close the quote of the cell (a quote inside a cell is written "")',
    ]
    assert table.rows == 5
    assert sorted(s.value for s in table.samples() if s.metric == "revenue") == [100.0]


def test_long_format_row_errors_name_the_metric_cell():
    settings = CsvSettings.model_validate(
        {
            "path": "k.csv",
            "long": {"names": {"Umsatz": "revenue"}, "dim_columns": {"currency": "cur"}},
        }
    )
    text = "date,metric,value,cur\n2025-01-06,folowers,5,\n2025-01-06,clicks,5,EUR\n"
    table = read_table(settings, [Document("k.csv", text.encode())], datetime.now(UTC))
    assert [str(e) for e in table.errors] == [
        "k.csv:2:2: column 'metric': 'folowers' is not a metric of the vocabulary; "
        "did you mean 'followers', 'followers_lost' or 'followers_gained'? "
        "(or add it to long.names)",
        "k.csv:3:4: column 'cur': clicks has no dimension currency (allowed: none); "
        "leave the cell empty for this metric",
    ]


@pytest.mark.parametrize(
    ("decimal", "thousands", "text", "value", "says"),
    [
        (".", "", "1234.5", 1234.5, None),
        (".", ",", "1,234.5", 1234.5, None),
        (",", ".", "€ 1.234,5", 1234.5, None),
        (",", "", "1 234,5", 1234.5, None),  # spaces (also no-break) are ignored
        (".", "'", "-1'234.5", -1234.5, None),
        (".", "", "1.234,50", None, "set thousands: ','"),
        (",", "", "1.234,50", None, "it has a '.' but the decimal mark is ','"),
        (".", "", "12 %", None, "it is not a number"),
        (".", "", "nan", None, "it is not a number"),
    ],
)
def test_numbers_as_spreadsheets_write_them(decimal, thousands, text, value, says):
    numbers = NumberFormat(decimal, thousands)
    if says is None:
        assert numbers.parse(text) == value
    else:
        with pytest.raises(CellError) as caught:
            numbers.parse(text)
        assert says in str(caught.value)


async def test_bad_rows_are_skipped_and_the_rest_imported(tmp_path: Path):
    source = write(
        tmp_path / "csat.csv",
        "date,csat\n2025-01-06,5\n2025-01-06,6\n2025-01-06,four\n2025-01-07,1\n",
    )
    state: dict = {}
    run = await run_collect(
        PLATFORM,
        {"path": str(source), "answers": [{"column": "csat", "survey": "csat"}]},
        state=state,
    )
    assert rows(run.samples) == {
        ("csat_responses", 1.0, "1d", (), at("2025-01-07")),
        ("csat_satisfied", 1.0, "1d", (), at("2025-01-07")),
        ("csat_responses", 1.0, "1d", (), at("2025-01-08")),
        ("csat_satisfied", 0.0, "1d", (), at("2025-01-08")),
    }
    assert state["csv_import"]["rows"] == 4 and state["csv_import"]["skipped"] == 2


async def test_a_level_given_twice_for_one_date_is_a_row_error(tmp_path: Path):
    source = write(tmp_path / "f.csv", "date,fans\n2025-01-06,10\n2025-01-06,11\n2025-01-07,12\n")
    settings = CsvSettings.model_validate(
        {"path": str(source), "columns": [{"column": "fans", "metric": "followers"}]}
    )
    table = read_table(settings, [Document("f.csv", source.read_bytes())], datetime.now(UTC))
    assert [str(e) for e in table.errors] == [
        "f.csv:3: followers for 2025-01-07T00:00:00+00:00 is already on line 2; "
        "keep one row per date for levels such as followers or customers"
    ]
    assert sorted(s.value for s in table.samples()) == [10.0, 12.0]


async def test_a_file_of_bad_rows_is_a_bad_response(tmp_path: Path):
    source = write(tmp_path / "nps.csv", "date,nps\n2025-01-06,11\n2025-01-07,-1\n")
    state: dict = {}
    run = await run_collect(
        PLATFORM,
        {"path": str(source), "answers": [{"column": "nps", "survey": "nps"}]},
        state=state,
    )
    run.assert_failed("bad_response")
    assert "none of the 2 rows" in (run.outcome.message or "")
    assert "nps.csv:2:2: column 'nps': 11 is not a NPS answer" in (run.outcome.message or "")
    assert "csv_import" not in state  # read again at the next poll


async def test_a_column_missing_from_the_header_is_a_bad_response(tmp_path: Path):
    source = write(tmp_path / "money.csv", MONEY)
    columns = [{"column": "Revenu", "metric": "revenue", "dims": {"currency": "EUR"}}]
    run = await run_collect(PLATFORM, {"path": str(source), "columns": columns})
    run.assert_failed("bad_response")
    assert "money.csv:1: columns names the column 'Revenu'" in (run.outcome.message or "")
    assert "did you mean 'Revenue'?" in (run.outcome.message or "")


async def test_text_in_another_encoding_names_the_setting(tmp_path: Path):
    source = write(tmp_path / "u.csv", "Datum;Umsatz\n06.01.2025;1,5\nÄ;1\n", encoding="cp1252")
    run = await run_collect(
        PLATFORM,
        {
            "path": str(source),
            "decimal": ",",
            "date": {"column": "Datum", "format": "%d.%m.%Y"},
            "columns": [{"column": "Umsatz", "metric": "revenue", "dims": {"currency": "EUR"}}],
        },
    )
    run.assert_failed("bad_response")
    assert "set encoding: cp1252" in (run.outcome.message or "")


async def test_a_missing_file_is_not_found(tmp_path: Path):
    run = await run_collect(
        PLATFORM, {"path": str(tmp_path / "nope.csv"), "columns": MONEY_COLUMNS}
    )
    run.assert_failed("not_found")
    assert "nope.csv does not exist" in (run.outcome.message or "")


# URLs ---------------------------------------------------------------------------------------


async def test_an_export_url_is_fetched_again_only_when_it_changed(fake_api: FakeApi):
    changed = MONEY + "2025-01-08,500,80,1\n"
    fake_api.add(
        "GET",
        "/export.csv",
        Reply(body=MONEY, headers={"ETag": '"v1"', "Content-Type": "text/csv"}),
        Reply(status=304, body="", headers={"ETag": '"v1"'}),
        Reply(
            body=changed, headers={"ETag": '"v2"', "Last-Modified": "Wed, 08 Jan 2025 09:00:00 GMT"}
        ),
        Reply(status=304, body=""),
    )
    settings = {
        "url": f"{fake_api.url}/export.csv?gid=0&token=abc",
        "headers": {"Authorization": "Bearer sheet-token"},
        "columns": MONEY_COLUMNS,
    }
    state: dict = {}

    first = await run_collect(PLATFORM, settings, state=state)
    assert len(first.samples) == 5
    second = await run_collect(PLATFORM, settings, state=state)
    assert second.ok and second.samples == []
    third = await run_collect(PLATFORM, settings, state=state)
    assert len(third.samples) == 8
    fourth = await run_collect(PLATFORM, settings, state=state)
    assert fourth.ok and fourth.samples == []

    sent = fake_api.calls("/export.csv")
    assert [r.headers.get("If-None-Match") for r in sent] == [None, '"v1"', '"v1"', '"v2"']
    assert sent[3].headers.get("If-Modified-Since") == "Wed, 08 Jan 2025 09:00:00 GMT"
    assert all(r.headers["Authorization"] == "Bearer sheet-token" for r in sent)
    assert sent[0].query == {"gid": "0", "token": "abc"}


async def test_a_url_without_validators_is_compared_by_content(fake_api: FakeApi):
    fake_api.add("GET", "/kpis.csv", Reply(body=MONEY))
    settings = {"url": f"{fake_api.url}/kpis.csv", "columns": MONEY_COLUMNS}
    state: dict = {}
    assert len((await run_collect(PLATFORM, settings, state=state)).samples) == 5
    again = await run_collect(PLATFORM, settings, state=state)
    assert again.ok and again.samples == []
    assert len(fake_api.calls("/kpis.csv")) == 2


@pytest.mark.parametrize(("status", "reason"), [(401, "auth"), (404, "not_found")])
async def test_url_errors_are_classified(fake_api: FakeApi, status: int, reason: str):
    fake_api.add("GET", "/export.csv", Reply(status=status, body="no"))
    run = await run_collect(
        PLATFORM, {"url": f"{fake_api.url}/export.csv?key=s3cret", "columns": MONEY_COLUMNS}
    )
    run.assert_failed(reason)
    assert "s3cret" not in (run.outcome.message or "")


# settings -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "loc", "words"),
    [
        (
            {"columns": [{"column": "x", "metric": "revenu"}]},
            ("columns", 0, "metric"),
            "did you mean 'revenue'",
        ),
        (
            {"columns": [{"column": "x", "metric": "customers", "window": "1d"}]},
            ("columns", 0, "window"),
            "takes no window",
        ),
        (
            {"columns": [{"column": "x", "metric": "clicks", "window": "12h"}]},
            ("columns", 0, "window"),
            "whole days",
        ),
        (
            {"columns": [{"column": "x", "metric": "clicks", "dims": {"currency": "EUR"}}]},
            ("columns", 0, "dims"),
            "no dimension 'currency'",
        ),
        (
            {"columns": [{"column": "x", "metric": "clicks", "count": True}]},
            ("columns", 0),
            "exactly one of column or count",
        ),
        ({"date": {"format": "dd.mm.yyyy"}}, ("date", "format"), "strftime codes"),
        ({"date": {"timezone": "Europe/Berln"}}, ("date", "timezone"), "IANA name"),
        ({"encoding": "utf-9"}, ("encoding",), "not a text encoding"),
        ({"decimal": ",", "thousands": ","}, (), "decimal and thousands are both ','"),
        ({"url": "https://a.example/x.csv"}, (), "exactly one of path or url"),
        (
            {"long": {"names": {"Umsatz": "revenu"}}},
            ("long", "names", "Umsatz"),
            "did you mean 'revenue'",
        ),
    ],
)
def test_settings_errors_name_the_field_and_the_fix(change, loc, words):
    raw = {"path": "data.csv", "columns": [{"column": "x", "metric": "clicks"}]} | change
    with pytest.raises(pydantic.ValidationError) as caught:
        CsvSettings.model_validate(raw)
    errors = caught.value.errors()
    assert [e["loc"] for e in errors] == [loc]
    assert words in errors[0]["msg"]


def test_the_sample_configuration_is_valid():
    folder = Path(__file__).resolve().parents[2] / "plugins" / "kpiwatch_platforms" / "csv"
    text = (folder / "sample.yaml").read_text()
    loaded = load_config_text(text, "sample.yaml", {"csv": PLATFORM}, {})
    assert {a.platform for a in loaded.config.accounts} == {"csv"}


def test_the_plugin_registers_the_platform():
    registry = PluginRegistry()
    registry.register_module(plugin, "csv")
    registry.finish()
    assert registry.errors == []
    assert registry.platforms["csv"] is PLATFORM
