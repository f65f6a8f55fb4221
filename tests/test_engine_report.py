"""The feedback report: its notebook renderer (stdlib, escaped) lets no student HTML through,
and the page fits a phone (viewport meta, the item table scrolls in its own box)."""

from __future__ import annotations

import json

import pytest
from chromium import PHONE, headless_chromium, phone_width

from grader.engine import nbhtml
from grader.engine.report import CSP, feedback_html, render_notebook
from grader.engine.result import GradeResult, ItemResult

PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9aw"
    "AAAABJRU5ErkJggg=="
)


def _nb(cells: list[dict]) -> str:
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def test_code_outputs_errors_and_images():
    page = render_notebook(
        _nb(
            [
                {
                    "cell_type": "code",
                    "execution_count": 3,
                    "source": ["x = '<b>'\n", "print(x)"],
                    "outputs": [
                        {"output_type": "stream", "name": "stdout", "text": "<b>\n"},
                        {
                            "output_type": "error",
                            "ename": "ValueError",
                            "evalue": "bad",
                            "traceback": ["\x1b[0;31mValueError\x1b[0m: bad <i>"],
                        },
                        {"output_type": "display_data", "data": {"image/png": PNG}},
                        {"output_type": "execute_result", "data": {"text/plain": "42"}},
                    ],
                }
            ]
        )
    )
    assert "In [3]:" in page and "x = &#x27;&lt;b&gt;&#x27;" in page
    assert "&lt;b&gt;" in page and "<b>" not in page
    assert "ValueError: bad &lt;i&gt;" in page and "\x1b" not in page
    assert f'src="data:image/png;base64,{PNG}"' in page
    assert ">42</pre>" in page


def test_student_html_never_passes():
    page = render_notebook(
        _nb(
            [
                {
                    "cell_type": "markdown",
                    "source": "# Title\n<script>alert(1)</script> `<i>`\n\n* **a<b>**\n* c",
                },
                {
                    "cell_type": "code",
                    "source": "",
                    "outputs": [
                        {
                            "output_type": "display_data",
                            "data": {"text/html": "<script>x</script>"},
                        },
                        {
                            "output_type": "display_data",
                            "data": {"image/png": '"><script>alert(2)</script>'},
                        },
                    ],
                },
            ]
        )
    )
    assert "<script" not in page
    assert "<h3>Title</h3>" in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<code>&lt;i&gt;</code>" in page
    assert "<ul><li><b>a&lt;b&gt;</b></li><li>c</li></ul>" in page
    assert "alert(2)" not in page  # an image whose payload is not base64 is dropped


def test_long_output_is_cut():
    text = "y" * (nbhtml.MAX_TEXT + 50)
    html = nbhtml.render_output({"output_type": "stream", "name": "stdout", "text": text})
    assert "[… 50 characters not shown]" in html and len(html) < nbhtml.MAX_TEXT + 200


def _graded_result() -> GradeResult:
    """A graded result with a long id, long messages, a hint, a traceback and a wide output,
    the things that used to push the report wider than a phone."""
    item = ItemResult(
        id="softmax_cross_entropy_backward_matches_numerical_gradient",
        title={"ja": "ソフトマックス交差エントロピーの逆伝播", "en": "softmax-with-loss backward"},
        points=0.0,
        max_points=2.0,
        passed=False,
        measured_error=3.2e-1,
        tolerance=1e-6,
        message={"ja": "勾配が数値微分と一致しません。" * 4, "en": "gradient mismatch " * 8},
        hint={"id": "h1", "ja": "バッチサイズで割りましたか?", "en": "Did you divide by N?"},
        probe_error="Traceback (most recent call last):\n" + "ValueError: " + "x" * 300,
    )
    wide = {"output_type": "stream", "name": "stdout", "text": "loss=" + "0.123456," * 60}
    nb = _nb([{"cell_type": "code", "execution_count": 1, "source": "train()", "outputs": [wide]}])
    return GradeResult(
        assignment="2-3-1_softmax_with_loss",
        status="graded",
        items=[item],
        max_score=2.0,
        executed_notebook=nb,
        title={"ja": "ソフトマックスと交差エントロピー", "en": "Softmax with loss"},
    )


def test_feedback_page_has_a_viewport_and_its_table_scrolls_in_its_own_box():
    page = feedback_html(_graded_result())
    head = page[: page.index("</head>")]
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in head
    # the CSP is unchanged: no script, nothing remote
    assert f'<meta http-equiv="Content-Security-Policy" content="{CSP}">' in head
    assert CSP == "default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:"
    assert '<div class="table-box"><table class="items">' in page
    assert ".table-box{overflow-x:auto" in page and "<script" not in page


@pytest.mark.browser
def test_feedback_page_fits_a_phone_screen(tmp_path):
    """In headless Chromium at 390 px (mobile emulation), the page is no wider than the
    screen; the item table keeps to its box (it may scroll there)."""
    path = tmp_path / "feedback.html"
    path.write_text(feedback_html(_graded_result()), encoding="utf-8")
    drv = headless_chromium(tmp_path / "profile")
    try:
        phone_width(drv, PHONE)
        drv.get(path.as_uri())
        page_w = drv.execute_script("return document.documentElement.scrollWidth")
        view_w = drv.execute_script("return window.innerWidth")
        box_w = drv.execute_script(
            "return document.querySelector('.table-box').getBoundingClientRect().right"
        )
    finally:
        drv.quit()
    assert view_w == PHONE  # the viewport meta took effect (980 without it)
    assert page_w <= PHONE and box_w <= PHONE


def test_result_round_trips_through_its_dict():
    """One result contract: ``from_dict`` is the inverse of ``to_dict`` (the service renders
    stored payloads with it), items, hints, timings and messages included."""
    from grader.engine.result import GradeResult

    result = _graded_result()
    d = result.to_dict()
    again = GradeResult.from_dict(d, result.executed_notebook)
    assert again.to_dict() == d
    assert again.executed_notebook == result.executed_notebook
    assert feedback_html(again) == feedback_html(result)
