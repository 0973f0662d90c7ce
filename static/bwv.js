// bwv: small improvements for browsers that run script; every page works without it.
"use strict";

// The player's position, for a person marking an excerpt's start and end.
function clockOf(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60, r = s % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${pad(m)}:${pad(r)}` : `${m}:${pad(r)}`;
}

document.addEventListener("DOMContentLoaded", () => {
  for (const video of document.querySelectorAll("video.player")) {
    const seq = video.id.replace("player-", "");
    const out = document.getElementById(`time-${seq}`);
    if (out) {
      video.addEventListener("timeupdate", () => { out.value = clockOf(video.currentTime); });
    }
  }
  // "Mark excerpt start/end" buttons fill an excerpt field from the player they name, as a
  // time from the start of the recording (the clip's offset in it plus the player's position).
  for (const button of document.querySelectorAll("button[data-mark]")) {
    button.hidden = false;
    button.addEventListener("click", (event) => {
      event.preventDefault();
      const video = document.getElementById(button.dataset.player);
      const field = document.getElementById(button.dataset.mark);
      const offset = Number(button.dataset.offset || 0);
      if (video && field) { field.value = clockOf(offset + video.currentTime); }
    });
  }
  const task = document.getElementById("task");
  if (task && task.hasAttribute("data-running")) {
    for (const el of task.querySelectorAll("[data-without-script]")) { el.hidden = true; }
    followTask(task);
  }
});

// A running task's page asks for itself every two seconds and takes over the new progress. The
// status line stays the same element, so a screen reader announces its changes (a live region
// put in fresh is often not announced); once the task has ended, the rest of the page follows.
function followTask(task) {
  const poll = async () => {
    let fresh;
    try {
      const answer = await fetch(location.href, { headers: { Accept: "text/html" } });
      if (answer.redirected) { location.assign(answer.url); return; } // signed out: the sign-in page
      if (answer.status >= 400 && answer.status < 500) {
        // The task is gone (this node restarted, or it was forgotten): stop, and offer the link.
        for (const el of task.querySelectorAll("[data-without-script]")) { el.hidden = false; }
        return;
      }
      if (!answer.ok) { throw new Error(answer.statusText); }
      fresh = new DOMParser().parseFromString(await answer.text(), "text/html").getElementById("task");
    } catch {
      fresh = null; // a moment offline, or the server busy: try again on the next turn
    }
    if (fresh) {
      const status = document.getElementById("task-status");
      const next = fresh.querySelector("#task-status");
      if (status && next) {
        status.className = next.className;
        status.setAttribute("role", next.getAttribute("role") || "status");
        status.textContent = next.textContent;
        next.replaceWith(status);
      }
      if (fresh.hasAttribute("data-running")) {
        const bar = document.getElementById("progress");
        const freshBar = fresh.querySelector("#progress");
        if (bar && freshBar) {
          bar.max = freshBar.max;
          bar.value = freshBar.value;
          bar.textContent = freshBar.textContent;
        }
      } else {
        task.removeAttribute("data-running");
        task.replaceChildren(...fresh.childNodes);
        return;
      }
    }
    setTimeout(poll, 2000);
  };
  setTimeout(poll, 2000);
}
