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
});
