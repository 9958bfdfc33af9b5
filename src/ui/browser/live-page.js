// @ts-check
/**
 * The live page's script: follows the run over Server-Sent Events, draws the tables and the uPlot
 * charts (uPlot inlined before it as the `uPlot` global), and sends the controls to the JSON API.
 * Plain ES5-style script, no imports: src/ui/ui-page.ts inlines it as is into the page it serves.
 */
/** @typedef {import('./live-data').StateMessage} StateMessage */
/** @typedef {import('./live-data').IntervalMessage} IntervalMessage */
/** @typedef {import('./live-data').DoneMessage} DoneMessage */
/** @typedef {import('./live-data').TableView} TableView */
/** @typedef {import('./live-data').RowView} RowView */
/** @typedef {import('./live-data').DevicesView} DevicesView */
/** @typedef {import('./live-data').CapacityView} CapacityView */
/** @typedef {import('./live-data').FleetView} FleetView */
/** @typedef {import('./live-data').PageState} PageState */
/** @typedef {import('./live-data').HistoryPointView} HistoryPoint */
/** @typedef {NonNullable<HistoryPoint['load']>} IntervalLoad */
/** @typedef {HistoryPoint['generator']} IntervalHealth */
/** @typedef {import('uplot').Series} Series */
/** @typedef {import('uplot').Axis} Axis */
/** @typedef {import('uplot').Options & { scales: import('uplot').Scales }} PlotOptions */
/** @typedef {[number[], ...(number | null)[][]]} Columns */
/**
 * @typedef {object} ChartExtra
 * @property {string} [xLabel]
 * @property {Axis[]} [axes]
 * @property {import('uplot').Scales} [scales]
 */
/** @typedef {import('./page-element').PageElement} PageElement */
(function () {
  'use strict';
  var token = new URLSearchParams(location.search).get('token');
  var query = token ? '?token=' + encodeURIComponent(token) : '';
  /** @type {Record<string, string>} */
  var headers = { 'Content-Type': 'application/json' };
  if (token) headers['X-Fleetsim-Token'] = token;
  var COLORS = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#be185d', '#4d7c0f'];
  var DASH = { p50: [], p95: [6, 4], p99: [2, 3] };
  /** @type {HistoryPoint[]} */
  var history = [];
  /** @type {CapacityView['steps'][number][]} */
  var steps = [];
  /** @type {Record<string, { key: string, plot: uPlot }>} */
  var plots = {};
  var formFilled = false;
  /** @type {PageState} */
  var ui = (window.__ui = { status: 'connecting', intervals: 0, charts: {}, table: null, devices: null, mode: null });

  /**
   * @param {string} id
   * @returns {PageElement}
   */
  function $(id) {
    return /** @type {PageElement} */ (document.getElementById(id));
  }
  /** @param {string | number} text */
  function esc(text) {
    return String(text).replace(/[&<>"']/g, function (c) {
      return /** @type {Record<string, string>} */ ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c];
    });
  }
  /** As the console prints a latency: '-' without samples. */
  /** @param {number | null | undefined} value */
  function ms(value) {
    if (value === null || value === undefined) return '-';
    if (value >= 100) return String(Math.round(value));
    if (value >= 10) return value.toFixed(1);
    return value.toFixed(2);
  }
  /** @param {string} [message] */
  function showError(message) {
    $('error').textContent = message || '';
  }

  /**
   * @param {string} path
   * @param {object} [body]
   * @returns {Promise<StateMessage>}
   */
  function post(path, body) {
    showError('');
    return fetch(path, { method: 'POST', headers: headers, body: JSON.stringify(body || {}) })
      .then(function (response) {
        return response.json().then(
          /** @param {StateMessage & { error?: string }} json */ function (json) {
            if (!response.ok) throw new Error(json.error || response.statusText);
            return json;
          },
        );
      })
      .catch(
        /** @param {Error} error */ function (error) {
          showError(String(error.message || error));
          throw error;
        },
      );
  }

  var COLUMNS = ['Type', 'Name', '# reqs', '# fails', 'Median', 'Avg', 'Min', 'Max', '90%ile', '95%ile', '99%ile', 'Avg size (bytes)', 'req/s', 'Current req/s'];
  /** Each row's requests per second over the trailing window, from the history's last points: Locust's "Current RPS". */
  function currentRates() {
    /** @type {Record<string, number>} */
    var rates = {};
    if (ui.status !== 'running' || history.length === 0) return rates;
    var last = history[history.length - 1];
    var windowS = last.recent ? last.recent.windowS : last.intervalS;
    /** @type {Record<string, number>} */
    var counts = {};
    var seconds = 0;
    for (var i = history.length - 1; i >= 0 && seconds < windowS - 1e-6; i--) {
      var p = history[i];
      seconds += p.intervalS;
      p.rows.concat(p.types, [p.total]).forEach(function (r) {
        var k = r.type + ' ' + r.name;
        counts[k] = (counts[k] || 0) + r.requests;
      });
    }
    Object.keys(counts).forEach(function (k) {
      rates[k] = counts[k] / Math.max(0.001, seconds);
    });
    return rates;
  }
  /**
   * @param {RowView} row
   * @param {string} className
   * @param {Record<string, number>} current
   */
  function statsRow(row, className, current) {
    var pct = row.requests === 0 ? 0 : (row.failures / row.requests) * 100;
    var l = row.latencyMs;
    var now = current[row.type + ' ' + row.name];
    var size = row.bytesIn === undefined ? '-' : row.requests === 0 ? '0' : String(Math.round(row.bytesIn / row.requests));
    var cells = [
      ['type', row.type, 'text'],
      ['name', row.name, 'text'],
      ['requests', String(row.requests)],
      ['failures', row.failures + ' (' + pct.toFixed(2) + '%)'],
      ['p50', ms(l.p50)],
      ['mean', ms(l.mean)],
      ['min', ms(l.min)],
      ['max', ms(l.max)],
      ['p90', ms(l.p90)],
      ['p95', ms(l.p95)],
      ['p99', ms(l.p99)],
      ['size', size],
      ['rps', row.rps.toFixed(2)],
      ['current', now === undefined ? '-' : now.toFixed(2)],
    ];
    return (
      '<tr data-row="' +
      esc(row.type + ' ' + row.name) +
      '"' +
      (className ? ' class="' + className + '"' : '') +
      '>' +
      cells
        .map(function (c) {
          return '<td data-k="' + c[0] + '"' + (c[2] ? ' class="text"' : '') + '>' + esc(c[1]) + '</td>';
        })
        .join('') +
      '</tr>'
    );
  }
  /**
   * @param {string[]} titles
   * @param {number} textColumns
   */
  function head(titles, textColumns) {
    return (
      '<tr>' +
      titles
        .map(function (t, i) {
          return '<th' + (i < textColumns ? ' class="text"' : '') + '>' + esc(t) + '</th>';
        })
        .join('') +
      '</tr>'
    );
  }

  /** @param {TableView | null} table */
  function renderTable(table) {
    ui.table = table;
    if (!table) {
      $('stats').innerHTML = '';
      return;
    }
    var typeRows = table.types.length > 1 ? table.types : [];
    var current = currentRates();
    $('stats').innerHTML =
      head(COLUMNS, 2) +
      table.stats
        .map(function (r) {
          return statsRow(r, '', current);
        })
        .join('') +
      typeRows
        .map(function (r) {
          return statsRow(r, 'type', current);
        })
        .join('') +
      statsRow(table.total, 'aggregate', current);
    $('failures').innerHTML =
      table.failures.length === 0
        ? '<tr><td class="text">No failures.</td></tr>'
        : head(['Type', 'Name', 'Error', 'Count'], 3) +
          table.failures
            .map(function (f) {
              return '<tr><td class="text">' + esc(f.type) + '</td><td class="text">' + esc(f.name) + '</td><td class="text">' + esc(f.error) + '</td><td>' + f.count + '</td></tr>';
            })
            .join('');
    $('thresholds').innerHTML =
      table.thresholds.length === 0
        ? '<tr><td class="text">No thresholds set.</td></tr>'
        : head(['Verdict', 'Threshold', 'Row read', 'Value now'], 3) +
          table.thresholds
            .map(function (t) {
              var value = t.value === null ? t.reason || 'not evaluable' : t.shown || String(t.value);
              return (
                '<tr><td class="' +
                (t.ok ? 'ok' : 'fail') +
                '">' +
                (t.ok ? 'ok' : 'FAIL') +
                '</td><td class="text">' +
                esc(t.expr) +
                '</td><td class="text">' +
                esc(t.row || '') +
                '</td><td>' +
                esc(value) +
                '</td></tr>'
              );
            })
            .join('');
  }

  /** @param {DevicesView | null} devices */
  function renderDevices(devices) {
    ui.devices = devices;
    if (!devices) return;
    $('n-devices').textContent = devices.online + ' / ' + devices.target;
    $('ceiling').textContent = devices.running + ' running; up to ' + devices.ceiling + ' (max devices)';
  }

  /** The run's rates over the trailing window (Locust's "current RPS"); the interval's own before a point carries them. */
  /** @param {HistoryPoint} point */
  function recentOf(point) {
    return point.recent || { windowS: point.intervalS, rps: point.total.rps, failuresPerS: point.total.failuresPerS, latencyMs: point.total.latencyMs };
  }
  /** @param {HistoryPoint | undefined} point */
  function renderPoint(point) {
    if (!point) {
      ['n-rps', 'n-fails', 'n-latency', 'n-delivered'].forEach(function (id) {
        $(id).textContent = '-';
      });
      return;
    }
    var recent = recentOf(point);
    var window = '(last ' + Math.round(recent.windowS) + ' s)';
    $('n-elapsed').textContent = Math.round(point.atS) + ' s';
    $('n-rps').textContent = recent.rps.toFixed(1);
    $('n-fails').textContent = recent.failuresPerS.toFixed(1);
    $('n-latency').textContent = ms(recent.latencyMs.p50) + ' / ' + ms(recent.latencyMs.p95) + ' / ' + ms(recent.latencyMs.p99);
    $('l-rps').textContent = 'requests/s ' + window;
    $('l-fails').textContent = 'failures/s ' + window;
    $('l-latency').textContent = 'p50 / p95 / p99 ms ' + window;
    ui.recent = recent;
    $('n-generator').textContent = point.generator.busyPercent + '%, ' + point.generator.lagP99Ms + ' ms';
    var load = point.load;
    $('n-delivered').textContent = load && load.deliveredShare !== null ? Math.round(load.deliveredShare * 100) + '% of ' + load.offeredRps.toFixed(1) + '/s' : '-';
    var banner = $('banner');
    // One classifier decides, over the same trailing window as the verdict, so the banner neither flickers nor blames the wrong side.
    var text = load && load.cause && load.cause !== 'delivered' ? shortfallText(load, point.generator) : '';
    banner.textContent = text;
    banner.className = text ? 'on' : '';
  }

  /**
   * @param {IntervalLoad} load
   * @param {IntervalHealth} generator
   */
  function shortfallText(load, generator) {
    var share = Math.round(/** @type {number} */ (load.deliveredShare) * 100) + '% of the offered load delivered over the last ' + Math.round(load.windowS) + ' s';
    if (load.cause === 'target') return share + ': the target is the limit (slow or refused answers while fleetsim had CPU to spare).';
    if (load.cause === 'generator') return share + ": fleetsim's own event loop is the limit (" + generator.busyPercent + '% busy); latencies include its delay. Run fewer devices per process.';
    if (load.cause === 'host') {
      var other = generator.otherCpuPercent === undefined ? '' : ' Other processes used ' + generator.otherCpuPercent + "% of the machine's CPU.";
      return share + ': the machine is the limit: fleetsim waited for a CPU ' + generator.runQueuePercent + '% of the interval.' + other + ' The numbers say nothing sure about the target.';
    }
    return share + ": requests wait for fleetsim's own pooled connections longer than for the target. Raise http.connections.";
  }

  // --- charts -----------------------------------------------------------------------------
  /**
   * @param {string} id
   * @returns {HTMLElement | null}
   */
  function plotBox(id) {
    return /** @type {HTMLElement | null} */ (document.querySelector('[data-chart="' + id + '"] .plot'));
  }
  /** @param {Columns} columns */
  function count(columns) {
    var n = 0;
    for (var s = 1; s < columns.length; s++) for (var i = 0; i < columns[s].length; i++) if (typeof columns[s][i] === 'number') n++;
    return n;
  }
  /** Draws or updates a chart; a chart whose series changed (a new row) is drawn anew. */
  /**
   * @param {string} id
   * @param {string} key
   * @param {Series[]} series
   * @param {Columns} columns
   * @param {ChartExtra} extra
   */
  function chart(id, key, series, columns, extra) {
    var box = plotBox(id);
    if (!box) return;
    /** @type {{ key: string, plot: uPlot } | null | undefined} */
    var existing = plots[id];
    if (existing && existing.key !== key) {
      existing.plot.destroy();
      existing = null;
      delete plots[id];
    }
    // Emptied (the statistics were reset): the old lines go too.
    if (columns[0].length === 0) {
      if (existing) {
        existing.plot.destroy();
        delete plots[id];
        box.innerHTML = '';
      }
      ui.charts[id] = { points: 0, series: 0 };
      return;
    }
    if (existing) existing.plot.setData(columns);
    else {
      /** @type {PlotOptions} */
      var opts = {
        width: Math.max(320, box.clientWidth),
        height: 240,
        scales: { x: { time: false } },
        series: /** @type {Series[]} */ ([{ label: extra.xLabel || 'time (s)' }]).concat(series),
        axes: /** @type {Axis[]} */ ([{ label: extra.xLabel || 'seconds since start' }]).concat(extra.axes || [{}]),
        legend: { live: true },
      };
      if (extra.scales) for (var k in extra.scales) opts.scales[k] = extra.scales[k];
      box.innerHTML = '';
      plots[id] = { key: key, plot: new uPlot(opts, columns, box) };
    }
    ui.charts[id] = {
      points: count(columns),
      series: series.length,
      last: columns.map(function (c) {
        return c[c.length - 1];
      }),
    };
  }

  function rowKeys() {
    /** @type {Record<string, number>} */
    var seen = {};
    /** @type {string[]} */
    var keys = [];
    /** @type {(p: HistoryPoint) => readonly HistoryPoint['rows'][number][]} */
    var pick = function (p) {
      return p.rows;
    };
    history.forEach(function (p) {
      p.rows.forEach(function (r) {
        var k = r.type + ' ' + r.name;
        if (!seen[k]) {
          seen[k] = 1;
          keys.push(k);
        }
      });
    });
    if (keys.length > 4) {
      seen = {};
      keys = [];
      pick = function (p) {
        return p.types;
      };
      history.forEach(function (p) {
        p.types.forEach(function (r) {
          var k = r.type + ' ' + r.name;
          if (!seen[k]) {
            seen[k] = 1;
            keys.push(k);
          }
        });
      });
    }
    return { keys: keys, pick: pick };
  }

  function drawCharts() {
    if (history.length === 0) {
      // The statistics were reset: every run chart starts empty again.
      ['rps', 'latency', 'aggregate', 'devices', 'generator'].forEach(function (id) {
        chart(id, id, [], [[]], {});
      });
      return;
    }
    var x = history.map(function (p) {
      return p.atS;
    });
    // The trailing window's rates, as the tiles read them; each interval's own count stays as a thin line.
    var windowS = Math.round(recentOf(history[history.length - 1]).windowS);
    chart(
      'rps',
      'rps' + windowS,
      [
        { label: 'requests/s (last ' + windowS + ' s)', stroke: COLORS[0], width: 2 },
        { label: 'failures/s (last ' + windowS + ' s)', stroke: COLORS[1], width: 2 },
        { label: 'requests in each interval /s', stroke: COLORS[0], width: 1, dash: [2, 3] },
      ],
      [
        x,
        history.map(function (p) {
          return recentOf(p).rps;
        }),
        history.map(function (p) {
          return recentOf(p).failuresPerS;
        }),
        history.map(function (p) {
          return p.total.rps;
        }),
      ],
      { axes: [{ label: 'per second' }] },
    );

    chart(
      'aggregate',
      'aggregate',
      [
        { label: 'p50 ms', stroke: COLORS[0], width: 2, spanGaps: false },
        { label: 'p95 ms', stroke: COLORS[3], width: 2, dash: DASH.p95, spanGaps: false },
      ],
      [
        x,
        history.map(function (p) {
          return p.total.latencyMs.p50;
        }),
        history.map(function (p) {
          return p.total.latencyMs.p95;
        }),
      ],
      { axes: [{ label: 'ms' }] },
    );

    var rows = rowKeys();
    /** @type {Series[]} */
    var series = [];
    /** @type {Columns} */
    var columns = [x];
    rows.keys.forEach(function (key, i) {
      /** @type {('p50' | 'p95' | 'p99')[]} */ (['p50', 'p95', 'p99']).forEach(function (q) {
        series.push({ label: key + ' ' + q, stroke: COLORS[i % COLORS.length], width: q === 'p50' ? 2 : 1.5, dash: DASH[q], spanGaps: false });
        columns.push(
          history.map(function (p) {
            var found = rows.pick(p).filter(function (r) {
              return r.type + ' ' + r.name === key;
            })[0];
            return found ? found.latencyMs[q] : null;
          }),
        );
      });
    });
    if (series.length > 0) chart('latency', rows.keys.join('|'), series, columns, { axes: [{ label: 'ms' }] });

    chart(
      'devices',
      'devices',
      [
        { label: 'online', stroke: COLORS[2], width: 2 },
        { label: 'target', stroke: COLORS[3], width: 1.5, dash: [6, 4] },
      ],
      [
        x,
        history.map(function (p) {
          return p.devicesOnline;
        }),
        history.map(function (p) {
          return p.devicesTarget;
        }),
      ],
      { axes: [{ label: 'devices' }] },
    );

    chart(
      'generator',
      'generator',
      [
        { label: 'event loop busy %', stroke: COLORS[4], width: 2, scale: '%' },
        { label: 'lag p99 ms', stroke: COLORS[5], width: 1.5, scale: 'ms' },
      ],
      [
        x,
        history.map(function (p) {
          return p.generator.busyPercent;
        }),
        history.map(function (p) {
          return p.generator.lagP99Ms;
        }),
      ],
      {
        scales: { '%': { range: [0, 100] } },
        axes: [
          { scale: '%', label: 'busy %' },
          { scale: 'ms', side: 1, label: 'lag ms', grid: { show: false } },
        ],
      },
    );
  }

  // --- capacity ---------------------------------------------------------------------------
  /** @param {CapacityView | undefined} capacity */
  function renderCapacity(capacity) {
    if (!capacity) return;
    $('capacity').hidden = false;
    steps = capacity.steps.slice().sort(function (a, b) {
      return a.devices - b.devices;
    });
    var knee = steps.filter(function (s) {
      return !s.ok;
    })[0];
    $('capacity-verdict').textContent = capacity.verdict || (capacity.current ? 'Measuring ' + capacity.current + ' devices…' : '');
    $('capacity-steps').innerHTML =
      head(['Devices', 'req/s', 'p95', 'p99', 'Failures', 'SLOs'], 0) +
      steps
        .map(function (s) {
          var isKnee = knee && s.devices === knee.devices;
          return (
            '<tr data-step="' +
            s.devices +
            '"' +
            (isKnee ? ' class="knee"' : '') +
            '><td>' +
            s.devices +
            (s.repeat ? ' (' + s.repeat + ')' : '') +
            '</td><td>' +
            s.rps.toFixed(2) +
            '</td><td>' +
            ms(s.latencyMs.p95) +
            '</td><td>' +
            ms(s.latencyMs.p99) +
            '</td><td>' +
            (s.failureRate * 100).toFixed(2) +
            '%</td><td class="' +
            (s.ok ? 'ok' : 'fail') +
            '">' +
            (s.ok ? 'ok' : isKnee ? 'FAIL (knee)' : 'FAIL') +
            '</td></tr>'
          );
        })
        .join('');
    chart(
      'capacity',
      'capacity',
      [
        { label: 'requests/s', stroke: COLORS[0], width: 2, scale: 'rps', points: { show: true } },
        { label: 'p95 ms', stroke: COLORS[1], width: 2, scale: 'ms', points: { show: true } },
      ],
      [
        steps.map(function (s) {
          return s.devices;
        }),
        steps.map(function (s) {
          return s.rps;
        }),
        steps.map(function (s) {
          return s.latencyMs.p95;
        }),
      ],
      {
        xLabel: 'devices',
        axes: [
          { scale: 'rps', label: 'requests/s' },
          { scale: 'ms', side: 1, label: 'p95 ms', grid: { show: false } },
        ],
      },
    );
  }

  // --- state ------------------------------------------------------------------------------
  /** @param {StateMessage['defaults']} defaults */
  function fillForm(defaults) {
    if (formFilled || !defaults) return;
    formFilled = true;
    Object.keys(defaults).forEach(function (key) {
      var input = $('f-' + key);
      if (input) input.value = defaults[key];
    });
  }

  /** @param {readonly string[] | undefined} names */
  function renderDownloads(names) {
    $('downloads').innerHTML =
      !names || names.length === 0
        ? 'No run yet.'
        : names
            .map(function (name) {
              return '<a href="/api/download/' + encodeURIComponent(name) + query + '" download data-download="' + esc(name) + '">' + esc(name) + '</a>';
            })
            .join('');
  }

  /** @param {string} status */
  function setStatus(status) {
    ui.status = status;
    document.body.setAttribute('data-status', status);
    $('status').textContent = status;
    var active = status === 'running' || status === 'stopping';
    $('start-panel').hidden = active || ui.mode !== 'run';
    $('run-panel').hidden = !active;
    $('stop').disabled = status !== 'running';
    $('apply-devices').disabled = status !== 'running' || (ui.mode !== 'run' && ui.mode !== 'fleet');
    $('reset-stats').disabled = status !== 'running' || ui.mode !== 'run';
  }

  /** A coordinated run's workers: how many joined, each one's devices, and a lost one named with why. */
  /** @param {FleetView | undefined} fleet */
  function renderFleet(fleet) {
    ui.fleet = fleet;
    var box = $('fleet');
    if (!fleet) {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    var lost = fleet.workers.filter(function (w) {
      return w.state === 'lost';
    });
    box.innerHTML =
      '<b>Workers ' +
      fleet.joined +
      ' of ' +
      fleet.expected +
      ' joined' +
      (lost.length ? ', ' + lost.length + ' lost' : '') +
      ':</b> ' +
      fleet.workers
        .map(function (w) {
          var text = 'worker ' + w.index + ' (' + w.from + ') ' + w.state + (w.state === 'lost' ? ': ' + (w.lost || '') : ', ' + w.online + ' / ' + w.goal + ' devices');
          return '<span data-worker="' + w.index + '" data-state="' + esc(w.state) + '"' + (w.state === 'lost' ? ' class="fail"' : '') + '>' + esc(text) + '</span>';
        })
        .join('; ');
  }

  /** @param {DoneMessage} done */
  function renderDone(done) {
    history = done.history.slice();
    renderTable(done.table);
    renderPoint(history[history.length - 1]);
    /** @type {Record<string, string>} */
    var STOPPED = { requested: 'stopped from the page', duration: 'ran its duration', iterations: 'ran its iterations', interrupted: 'interrupted', terminated: 'terminated' };
    $('n-elapsed').textContent = done.summary.durationS + ' s, ' + (STOPPED[done.summary.stopReason] || done.summary.stopReason);
    // Finished: the devices online when the run began to stop, of the most it was asked for.
    $('n-devices').textContent = done.summary.devices.online + ' online at the stop (of ' + done.summary.devices.target + ')';
    if (done.summary.resetAtS !== undefined) $('n-elapsed').textContent += '; statistics since ' + Math.round(done.summary.resetAtS) + ' s (reset)';

    // The finished run's verdict on its load replaces the last interval's.
    var load = done.summary.load;
    if (load && load.deliveredShare !== null) {
      $('n-delivered').textContent = Math.round(load.deliveredShare * 1000) / 10 + '% of ' + load.offeredRps.toFixed(1) + '/s (run)';
      $('banner').textContent = load.cause === 'delivered' ? '' : 'Load: ' + load.summary + '.' + (load.advice ? ' ' + load.advice + '.' : '');
      $('banner').className = load.cause === 'delivered' ? '' : 'on';
    }
    var total = done.table.total;
    if (total.requests > 0 && total.failures === total.requests) {
      // A dead target: no answer had a latency, so the charts would just be empty.
      $('banner').textContent = 'Every attempt failed (' + total.requests + '): the target answered none, so there is no latency to chart. See Failures.';
      $('banner').className = 'on';
    }
    renderDownloads(done.downloads);
    drawCharts();
  }

  /** @param {StateMessage} state */
  function onState(state) {
    ui.mode = state.mode;
    $('profile').textContent = state.profile.name;
    $('models').textContent = state.profile.models
      .map(function (m) {
        return m.name + ' ×' + m.count;
      })
      .join(', ');
    fillForm(state.defaults);
    setStatus(state.status);
    if (state.error) showError(state.error);
    ui.resetAtS = state.run ? state.run.resetAtS : undefined;
    $('reset-note').textContent = ui.resetAtS === undefined || ui.resetAtS === null ? '' : 'statistics since ' + Math.round(ui.resetAtS) + ' s (reset)';
    if (state.run) {
      history = state.run.history.slice();
      renderTable(state.run.table);
      renderDevices(state.run.devices);
      renderPoint(history[history.length - 1]);
      if (document.activeElement !== $('set-devices')) $('set-devices').value = state.run.devices.target;
      if (document.activeElement !== $('set-spawnRate')) $('set-spawnRate').value = state.run.spawnRate;
      ui.spawnRate = state.run.spawnRate;
      drawCharts();
    } else if (state.last) renderDone(state.last);
    renderDownloads(state.downloads);
    renderCapacity(state.capacity);
    renderFleet(state.fleet);
  }

  /** The server folds its history past 1,200 points; past a little more, the page takes the folded copy. */
  function refold() {
    fetch('/api/state' + query)
      .then(function (response) {
        return /** @type {Promise<StateMessage>} */ (response.json());
      })
      .then(
        function (state) {
          if (state.run) {
            history = state.run.history.slice();
            drawCharts();
          }
        },
        function () {},
      );
  }

  /** @param {IntervalMessage} message */
  function onInterval(message) {
    ui.intervals++;
    history.push(message.point);
    if (history.length > 1500) refold();
    if (message.table) renderTable(message.table);
    renderDevices(message.devices);
    if (message.fleet) renderFleet(message.fleet);
    renderPoint(message.point);
    // Redrawn with each table (every 2 s): the browser often shares the generator's machine.
    if (message.table || history.length < 4) drawCharts();
  }

  function listen() {
    var events = new EventSource('/api/events' + query);
    events.addEventListener('state', function (e) {
      onState(JSON.parse(e.data));
    });
    events.addEventListener('interval', function (e) {
      onInterval(JSON.parse(e.data));
    });
    events.addEventListener('done', function (e) {
      renderDone(JSON.parse(e.data));
      ui.done = (ui.done || 0) + 1;
    });
    events.addEventListener('capacity', function (e) {
      renderCapacity(JSON.parse(e.data));
    });
    events.addEventListener('fleet', function (e) {
      renderFleet(JSON.parse(e.data));
    });
    events.onerror = function () {
      if (ui.status !== 'disconnected') setStatus('disconnected');
    };
  }

  $('start-form').addEventListener('submit', function (event) {
    event.preventDefault();
    /** @type {Record<string, string>} */
    var body = {};
    ['devices', 'spawnRate', 'maxDevices', 'duration', 'stages', 'target', 'broker'].forEach(function (key) {
      body[key] = $('f-' + key).value.trim();
    });
    // Stages replace the single ramp; devices then only sizes nothing.
    if (body.stages) delete body.devices;
    $('start').disabled = true;
    history = [];
    void post('/api/start', body)
      .then(
        function () {},
        function () {},
      )
      .then(function () {
        $('start').disabled = false;
      });
  });
  $('apply-devices').addEventListener('click', function () {
    /** @type {{ devices: number, spawnRate?: number }} */
    var body = { devices: Number($('set-devices').value) };
    var rate = $('set-spawnRate').value.trim();
    // The rate paces this change and the next ones; left empty, the run keeps its own.
    if (rate !== '') body.spawnRate = Number(rate);
    post('/api/devices', body).then(
      function (state) {
        if (state.run) ui.spawnRate = state.run.spawnRate;
      },
      function () {},
    );
  });
  $('reset-stats').addEventListener('click', function () {
    post('/api/reset', {}).then(
      function () {},
      function () {},
    );
  });
  $('stop').addEventListener('click', function () {
    post('/api/stop', {}).then(
      function () {},
      function () {},
    );
  });
  window.addEventListener('resize', function () {
    Object.keys(plots).forEach(function (id) {
      var box = /** @type {HTMLElement} */ (plotBox(id));
      plots[id].plot.setSize({ width: Math.max(320, box.clientWidth), height: 240 });
    });
  });
  listen();
})();
