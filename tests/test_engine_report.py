"""The feedback report's notebook renderer (stdlib, escaped): no student HTML gets through."""

from __future__ import annotations

import json

from grader.engine import nbhtml
from grader.engine.report import render_notebook

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
