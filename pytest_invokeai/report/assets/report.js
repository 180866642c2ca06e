/* The report's controls: views, filter, search, keyboard, zoom, copy. One closure, no globals: other
   scripts (a review page's Accept buttons) share the page. Without JS every case stays visible, side by side. */
(function () {
  "use strict";
  var body = document.body;
  var cases = Array.prototype.slice.call(document.querySelectorAll("article.case"));
  var toolbar = document.getElementById("toolbar");
  var filter = document.getElementById("verdict-filter");
  var search = document.getElementById("search");
  var note = document.getElementById("filter-note");
  var keys = document.getElementById("keys");
  var zoom = document.getElementById("zoom");
  var VIEWS = ["side", "slider", "blink", "overlay", "diff"];
  var blinkTimer = null;
  var current = null;
  toolbar.hidden = false;

  // -- views -----------------------------------------------------------------------------------
  function setView(name) {
    VIEWS.forEach(function (each) { body.classList.toggle("view-" + each, each === name); });
    var radio = document.getElementById("view-" + name);
    if (radio) { radio.checked = true; }
    if (blinkTimer) { clearInterval(blinkTimer); blinkTimer = null; }
    body.classList.remove("blink-off");
    if (name === "blink") {
      blinkTimer = setInterval(function () { body.classList.toggle("blink-off"); }, 600);
    }
  }
  document.getElementById("views").addEventListener("change", function (event) {
    if (event.target.name === "view") { setView(event.target.value); }
  });
  function splitAt(stage, clientX) {
    var box = stage.getBoundingClientRect();
    var img = stage.querySelector("figure.actual img") || stage;
    var width = Math.max(1, img.getBoundingClientRect().width);
    var percent = Math.min(100, Math.max(0, (clientX - box.left) / width * 100));
    stage.style.setProperty("--split", percent.toFixed(1) + "%");
  }
  var split = 50;
  function moveSplit(step) {  // keys [ and ]: every slider at once, for those who do not use a pointer
    split = Math.min(100, Math.max(0, split + step));
    document.querySelectorAll(".stage[style]").forEach(function (stage) { stage.style.removeProperty("--split"); });
    body.style.setProperty("--split", split + "%");
  }
  document.addEventListener("pointermove", function (event) {
    if (!body.classList.contains("view-slider")) { return; }
    var stage = event.target.closest && event.target.closest(".stage.has-baseline");
    if (stage) { splitAt(stage, event.clientX); }
  });

  // -- filter and search -------------------------------------------------------------------------
  function matches(item, verdict, text) {
    if (verdict === "failures" && !item.classList.contains("failure")) { return false; }
    if (verdict === "notes" && !item.classList.contains("has-notes")) { return false; }
    if (verdict !== "all" && verdict !== "failures" && verdict !== "notes" &&
        item.getAttribute("data-verdicts").split(" ").indexOf(verdict) < 0) { return false; }
    return !text || item.getAttribute("data-test-id").toLowerCase().indexOf(text) >= 0;
  }
  function applyFilter() {
    var verdict = filter.value;
    var text = search.value.trim().toLowerCase();
    var shown = 0;
    cases.forEach(function (item) {
      var visible = matches(item, verdict, text);
      if (item.hidden === visible) { item.hidden = !visible; }
      if (visible) { shown += 1; }
    });
    note.textContent = shown + " of " + cases.length + " case(s) shown";
  }
  var searchTimer = null;
  search.addEventListener("input", function () {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(applyFilter, 80);
  });
  filter.addEventListener("change", applyFilter);
  applyFilter();  // a reload may restore the controls' state

  // -- keyboard --------------------------------------------------------------------------------
  function goTo(step) {
    var failures = cases.filter(function (item) { return !item.hidden && item.classList.contains("failure"); });
    if (!failures.length) { note.textContent = "no failure shown"; return; }
    var at = failures.indexOf(current);
    var next = at < 0 ? (step > 0 ? 0 : failures.length - 1) : (at + step + failures.length) % failures.length;
    if (current) { current.classList.remove("current"); }
    current = failures[next];
    current.classList.add("current");
    // Below the sticky header, not under it.
    var top = current.getBoundingClientRect().top + window.scrollY - document.querySelector("header").offsetHeight - 8;
    window.scrollTo(0, Math.max(0, top));
    current.focus({preventScroll: true});
    note.textContent = "failure " + (next + 1) + " of " + failures.length;
  }
  document.getElementById("next-failure").addEventListener("click", function () { goTo(1); });
  document.getElementById("previous-failure").addEventListener("click", function () { goTo(-1); });
  function cycleFilter() {
    filter.selectedIndex = (filter.selectedIndex + 1) % filter.options.length;
    applyFilter();
  }
  var KEYS = {
    "j": function () { goTo(1); }, "n": function () { goTo(1); },
    "k": function () { goTo(-1); }, "p": function () { goTo(-1); },
    "v": cycleFilter,
    "/": function () { search.focus(); search.select(); },
    "?": function () { keys.hidden = !keys.hidden; },
    "[": function () { moveSplit(-10); },
    "]": function () { moveSplit(10); }
  };
  VIEWS.forEach(function (name, index) { KEYS[String(index + 1)] = function () { setView(name); }; });
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var typing = /^(INPUT|SELECT|TEXTAREA)$/.test(event.target.tagName) && event.target.type !== "radio";
    if (typing) {
      if (event.key === "Escape" && event.target === search) { search.value = ""; applyFilter(); search.blur(); }
      return;
    }
    if (zoom.open && zoomKey(event.key)) { event.preventDefault(); return; }
    var action = KEYS[event.key];
    if (action) { event.preventDefault(); action(); }
  });

  // -- zoom: the output's images at whole multiples of their real pixels -------------------------
  var zoomStage = null;
  var factor = 1;
  function fitFactor(stage) {
    var img = stage.querySelector("img");
    var width = img.naturalWidth || 1, height = img.naturalHeight || 1;
    var fit = Math.floor(Math.min((window.innerWidth * 0.9) / (width * 2), (window.innerHeight * 0.8) / height));
    return Math.max(1, Math.min(16, fit));
  }
  function applyZoom() {
    zoomStage.querySelectorAll("img").forEach(function (img) {
      var scale = img.getAttribute("data-scale-to") ? zoomStage.querySelector("figure.actual img") : img;
      img.style.width = (scale.naturalWidth * factor) + "px";
      img.style.height = "auto";
    });
    document.getElementById("zoom-level").textContent = factor === 1
      ? "real pixels (1:1)" : factor + "\u00d7 (each image pixel is " + factor + "\u00d7" + factor + " screen pixels)";
  }
  function zoomKey(key) {
    if (key === "+" || key === "=") { factor = Math.min(32, factor + 1); applyZoom(); return true; }
    if (key === "-") { factor = Math.max(1, factor - 1); applyZoom(); return true; }
    if (key === "0") { factor = 1; applyZoom(); return true; }
    return false;
  }
  function openZoom(stage) {
    var holder = zoom.querySelector(".body");
    holder.textContent = "";
    zoomStage = stage.cloneNode(true);
    zoomStage.querySelectorAll("img").forEach(function (img) { img.loading = "eager"; });
    holder.appendChild(zoomStage);
    var output = stage.closest("section.output").querySelector(".output-name").textContent;
    document.getElementById("zoom-title").textContent = stage.closest("article").getAttribute("data-test-id") +
      " \u2014 " + output;
    factor = fitFactor(stage);
    applyZoom();
    zoom.showModal();
  }
  document.getElementById("zoom-in").addEventListener("click", function () { zoomKey("+"); });
  document.getElementById("zoom-out").addEventListener("click", function () { zoomKey("-"); });
  document.getElementById("zoom-real").addEventListener("click", function () { zoomKey("0"); });
  document.getElementById("zoom-close").addEventListener("click", function () { zoom.close(); });

  // -- copy buttons ------------------------------------------------------------------------------
  function copyText(button) {
    var source = button.parentNode.querySelector("pre");
    var text = source.textContent;
    function done() {
      button.textContent = "copied";
      setTimeout(function () { button.textContent = "copy"; }, 1500);
    }
    function selectForManualCopy() {
      var range = document.createRange();
      range.selectNodeContents(source);
      var selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      var copied = false;
      try { copied = document.execCommand("copy"); } catch (ignored) { copied = false; }
      if (copied) { done(); } else { button.textContent = "selected: press Ctrl+C"; }
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, selectForManualCopy);
    } else {
      selectForManualCopy();
    }
  }
  document.addEventListener("click", function (event) {
    var target = event.target;
    var button = target.closest && target.closest("button.copy");
    if (button) { copyText(button); return; }
    var stage = target.tagName === "IMG" && !zoom.contains(target) && target.closest(".stage");
    if (stage) { event.preventDefault(); openZoom(stage); }
  });
  setView((document.querySelector("input[name=view]:checked") || {value: "side"}).value);
})();
