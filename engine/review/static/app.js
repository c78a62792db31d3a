// Click-to-seek: every element with data-seek moves the player to that time and plays.
(function () {
  "use strict";
  function player() { return document.getElementById("player"); }

  function highlight(seconds) {
    var turns = document.querySelectorAll("#transcript .turn");
    for (var i = 0; i < turns.length; i++) {
      var start = parseFloat(turns[i].dataset.seek), end = parseFloat(turns[i].dataset.end);
      turns[i].classList.toggle("current", seconds >= start && seconds < end);
    }
  }

  function seek(seconds) {
    var audio = player();
    if (!audio) { highlight(seconds); return; }
    audio.currentTime = seconds;
    highlight(seconds);
    var playing = audio.play();
    if (playing && playing.catch) { playing.catch(function () { /* autoplay refused: the seek still holds */ }); }
  }

  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-seek]");
    if (!target) { return; }
    var seconds = parseFloat(target.dataset.seek);
    if (!isNaN(seconds)) { event.preventDefault(); seek(seconds); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" && event.key !== " ") { return; }
    var target = event.target.closest(".turn[data-seek]");
    if (target) { event.preventDefault(); seek(parseFloat(target.dataset.seek)); }
  });
  document.addEventListener("DOMContentLoaded", function () {
    var audio = player();
    if (audio) { audio.addEventListener("timeupdate", function () { highlight(audio.currentTime); }); }
  });
})();
