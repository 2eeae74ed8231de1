"""What this session must be told once, shown at the top of the main column where the eye is:
an unknown personal or class link, and a joined class (its name, your nickname, its
challenges). They used to sit in the sidebar, below the fold on a laptop and behind the menu
on a phone (issue 27). The flags are set by ui.identity when the link is read."""

from __future__ import annotations

import streamlit as st

from core.i18n import _
from ui.identity import CLASS_JOINED, CLASS_UNKNOWN, LINK_UNKNOWN, lesson
from ui.words import plain


def show() -> None:
    """Called by app.py before the page runs; each notice shows on one script run only."""
    if st.session_state.pop(LINK_UNKNOWN, False):
        st.info(
            _(
                "The link you opened is not known here (it may have expired). You get a new one "
                "when you train."
            ),
            icon=":material/link_off:",
        )
    if st.session_state.pop(CLASS_UNKNOWN, False):
        st.warning(
            _("The class link you opened is not known here; ask your teacher for the link again."),
            icon=":material/link_off:",
        )
    if st.session_state.pop(CLASS_JOINED, False):
        joined()


def joined() -> None:
    found = lesson()
    if found.room is None:
        return
    from core.lab import classroom
    from ui.services import store

    opened = store()
    challenges = classroom.class_challenges(opened, found.room.id) if opened else []
    lines = [
        _(
            "You joined **{room}** as **{nickname}**. Your runs are kept under your own link "
            '("Your link" in the sidebar): bookmark it to come back to them.'
        ).format(room=plain(found.room.name), nickname=plain(found.member.nickname))
    ]
    if challenges:
        lines.append(_("Your teacher's challenges:"))
        # Translators: one challenge in a list: its title, then what ranks it ("Test BCE").
        lines += [
            _("- **{title}** ({metric})").format(title=plain(item.title), metric=item.metric_label)
            for item in challenges
        ]
    else:
        lines.append(_("Your teacher has set no challenge yet: train and race as you like."))
    st.success("\n".join(lines), icon=":material/groups:")
