"""Result formats of other autograding platforms, from ``GradeResult.to_dict()`` dicts.

* Gradescope autograder ``results.json``: ``{"score", "tests": [{"name", "score",
  "max_score", "status", "output"}]}`` (status "passed"/"failed").
* PrairieLearn external grader ``results.json``: ``{"gradable", "score" (0..1), "message",
  "tests": [{"name", "points", "max_points", "message", "output"}]}``.
"""

from __future__ import annotations

from typing import Any


def _text(msg: dict | None, lang: str) -> str:
    if not msg:
        return ""
    return msg.get(lang) or msg.get("ja") or msg.get("en") or ""


def _item_output(item: dict, lang: str) -> str:
    lines = [_text(item.get("message"), lang)]
    if item.get("error") is not None and item.get("tolerance") is not None:
        lines.append(f"error {item['error']:.2e} (tolerance {item['tolerance']:.0e})")
    if item.get("hint"):
        lines.append(("Hint: " if lang == "en" else "ヒント: ") + _text(item["hint"], lang))
    return "\n".join(x for x in lines if x)


def gradescope(result: dict[str, Any], lang: str = "ja") -> dict[str, Any]:
    """One submission's Gradescope ``results.json``."""
    if result["status"] != "graded":
        return {
            "score": 0.0,
            "output": _text(result.get("error_message"), lang) or result.get("error") or "",
            "tests": [],
        }
    return {
        "score": result["score"],
        "output": f"{result['score']:g} / {result['max_score']:g}",
        "tests": [
            {
                "name": f"{it['id']}: {_text(it['title'], lang)}",
                "score": it["points"],
                "max_score": it["max_points"],
                "status": "passed" if it["passed"] else "failed",
                "output": _item_output(it, lang),
            }
            for it in result["items"]
        ],
    }


def prairielearn(result: dict[str, Any], lang: str = "ja") -> dict[str, Any]:
    """One submission's PrairieLearn ``results.json`` (score as a fraction)."""
    if result["status"] != "graded":
        return {
            "gradable": result["status"] != "rejected",
            "score": 0.0,
            "message": _text(result.get("error_message"), lang) or result.get("error") or "",
            "tests": [],
        }
    total = result["max_score"] or 1.0
    return {
        "gradable": True,
        "score": round(result["score"] / total, 6),
        "message": f"{result['score']:g} / {result['max_score']:g}",
        "tests": [
            {
                "name": it["id"],
                "description": _text(it["title"], lang),
                "points": it["points"],
                "max_points": it["max_points"],
                "message": _text(it["message"], lang),
                "output": _item_output(it, lang),
            }
            for it in result["items"]
        ],
    }
