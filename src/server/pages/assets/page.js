// The status pages' script: live filtering of the overview's rows, and a
// periodic reload (kept with the current filter, skipped while typing).
// Served as a file of its own so the Content-Security-Policy allows no
// inline script. The pages work without it.
(function () {
  var body = document.body;
  // Tells a headless check that the script ran and the stylesheet applied
  // under the page's Content-Security-Policy.
  body.setAttribute('data-script', 'ran');
  if (getComputedStyle(document.documentElement).getPropertyValue('--ok').trim() !== '') {
    body.setAttribute('data-style', 'applied');
  }
  // Tells a headless check how far the page is wider than the window
  // (0: no sideways scrolling), measured once laid out and again once
  // everything loaded.
  var overflow = function () {
    var root = document.documentElement;
    body.setAttribute('data-overflow', String(Math.max(0, root.scrollWidth - root.clientWidth)));
  };
  overflow();
  window.addEventListener('load', overflow);
  var refresh = parseInt(body.getAttribute('data-refresh') || '0', 10);
  var q = document.getElementById('q');
  var shown = document.getElementById('shown');
  if (q) {
    var rows = [].slice.call(document.querySelectorAll('tr[data-search]'));
    var apply = function () {
      var words = q.value.toLowerCase().split(/\s+/).filter(Boolean);
      var n = 0;
      rows.forEach(function (r) {
        var s = r.getAttribute('data-search');
        var m = words.every(function (w) { return s.indexOf(w) >= 0; });
        r.hidden = !m;
        if (m) n++;
      });
      if (shown) shown.textContent = n;
      history.replaceState(null, '', words.length ? '?q=' + encodeURIComponent(q.value.trim()) : location.pathname);
    };
    q.addEventListener('input', apply);
  }
  // The tenant page's probe-now button: a POST with the header credprobe
  // requires (a cross-site form cannot send it), then the page again.
  var probe = document.getElementById('probe-now');
  var probeStatus = document.getElementById('probe-status');
  if (probe && window.fetch) {
    probe.hidden = false;
    probe.addEventListener('click', function () {
      probe.disabled = true;
      probeStatus.textContent = 'probing…';
      fetch(probe.getAttribute('data-probe'), {
        method: 'POST',
        headers: { 'X-Credprobe-Probe': '1' },
        credentials: 'same-origin'
      }).then(function (r) {
        if (r.ok) { location.reload(); return; }
        return r.json().then(function (j) {
          probeStatus.textContent = j.error || ('HTTP ' + r.status);
          probe.disabled = false;
        });
      }).catch(function (e) {
        probeStatus.textContent = String(e);
        probe.disabled = false;
      });
    });
  }
  if (refresh > 0) {
    setInterval(function () {
      if (!q || document.activeElement !== q) location.reload();
    }, refresh * 1000);
  }
})();
