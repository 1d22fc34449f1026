"""`# litgen:` review notes: comments litgen puts above a statement a person should look at."""

from __future__ import annotations

from typing import TypeVar

import libcst as cst

StatementT = TypeVar("StatementT", bound=cst.BaseStatement)
REVIEW_PREFIX = "# litgen: "


def review_lines(message: str, width: int = 96) -> list[str]:
    """One `# litgen: ...` note as comment lines wrapped at `width` (continuation lines start `#   `)."""
    comments: list[str] = []
    line = REVIEW_PREFIX
    for word in message.split():
        if len(line) + len(word) > width and line.strip() != REVIEW_PREFIX.strip():
            comments.append(line.rstrip())
            line = "#   "
        line += word + " "
    comments.append(line.rstrip())
    return comments


def review(statement: StatementT, messages: list[str], width: int = 96) -> StatementT:
    """Put `# litgen: ...` comments (wrapped at `width`) on their own lines above a statement.

    A note the statement already carries is not added again, so a second run changes nothing.
    """
    # every statement node has them
    leading: list[cst.EmptyLine] = list(getattr(statement, "leading_lines", ()))
    present = {line.comment.value for line in leading if line.comment is not None}
    comments: list[str] = []
    for message in messages:
        wrapped = review_lines(message, width)
        if wrapped[0] in present:
            continue
        present.add(wrapped[0])  # the same note twice on one statement is written once
        comments.extend(wrapped)
    if not comments:
        return statement
    notes: list[cst.EmptyLine] = [cst.EmptyLine(comment=cst.Comment(text)) for text in comments]
    return statement.with_changes(leading_lines=[*leading, *notes])
