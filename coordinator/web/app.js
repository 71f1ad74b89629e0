// zanshin web page: reads the coordinator's API with a viewer token and
// redraws every few seconds.  No third-party code; works offline.
"use strict";

const REFRESH_MS = 3000;
let token = null;

function el(tag, attrs, ...kids) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {}))
		e.setAttribute(k, v);
	for (const k of kids)
		e.append(k === null || k === undefined ? "" : k);
	return e;
}

function svg(tag, attrs, text) {
	const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
	for (const [k, v] of Object.entries(attrs || {}))
		e.setAttribute(k, v);
	if (text !== undefined)
		e.textContent = text;
	return e;
}

function bytes(n) {
	if (n === null || n === undefined)
		return "–";
	const u = ["B", "KiB", "MiB", "GiB", "TiB"];
	let i = 0;
	while (n >= 1024 && i < u.length - 1) {
		n /= 1024;
		i++;
	}
	return (i ? n.toFixed(1) : n) + " " + u[i];
}

function secs(s) {
	return s === null || s === undefined ? "–" : s.toFixed(3) + " s";
}

function when(t) {
	return new Date(t * 1000).toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

function inMin(t, now) {
	const m = Math.round((t - now) / 60);
	return m < 60 ? `in ${m} min` : m < 1440 ? `in ${(m / 60).toFixed(1)} h` : `in ${(m / 1440).toFixed(1)} d`;
}

async function api(path) {
	const r = await fetch("/v1/" + path, {headers: {"Authorization": "Bearer " + token}, cache: "no-store"});
	const j = await r.json();
	if (!r.ok)
		throw new Error(`${path}: ${r.status} ${j.error || ""}`);
	return j;
}

function fill(id, rows) {
	const body = document.querySelector(`#${id} tbody`);
	body.replaceChildren(...rows);
}

// class state of a node: the room's (or the node's own label's) classes
function classState(node, classes, now) {
	const label = node.room || node.name;
	const mine = classes.filter(c => c.room === label && c.end > now).sort((a, b) => a.start - b.start);
	const cur = mine.find(c => c.start <= now);
	const next = mine.find(c => c.start > now);
	return {
		now: cur ? `in class: ${cur.summary} until ${when(cur.end).slice(11)}` : "free",
		next: next ? `${next.summary} ${inMin(next.start, now)} (${when(next.start)})` : "none in 7 days",
		inClass: !!cur,
	};
}

function drawNodes(nodes, classes, now) {
	fill("nodes", nodes.map(n => {
		const cs = classState(n, classes, now);
		const tr = el("tr", {"data-node": n.name, "class": n.state !== "up" ? "down" : cs.inClass ? "class" : ""},
			el("td", {}, n.name),
			el("td", {}, n.state + (n.draining ? ", draining" : "") + (n.stopping ? ", stopping" : "")),
			el("td", {}, n.room || "–"),
			el("td", {"class": "num"}, (100 * n.cpu).toFixed(0) + " %"),
			el("td", {"class": "num"}, `${bytes(n.mem_used)} / ${bytes(n.mem_total)}`),
			el("td", {"class": "num"}, String(n.containers)),
			el("td", {"class": "num"}, String(n.generations)),
			el("td", {"class": "class-state"}, cs.now),
			el("td", {"class": "next-class"}, cs.next));
		return tr;
	}));
}

function drawContainers(cs) {
	fill("containers", cs.map(c => el("tr", {"data-container": c.id},
		el("td", {}, c.id),
		el("td", {"class": "runs-on"}, c.node || "–"),
		el("td", {"class": "num"}, bytes(c.memory)),
		el("td", {"class": "remnants"}, (c.remnants || []).map(r =>
			`${r.node}: ${r.generations}${r.bundle ? " + Bundle" : ""}`).join(", ") || "none"))));
}

function moveBytes(m) {
	if (m.bytes_pages === null && m.bytes_bundle === null && m.bytes_metadata === null)
		return null;
	return (m.bytes_pages || 0) + (m.bytes_bundle || 0) + (m.bytes_metadata || 0);
}

// the move's mode, with what only that mode has
function modeText(m) {
	const mode = m.mode || "stop-copy";
	if (mode === "pre-copy" && m.precopy_rounds !== null && m.precopy_rounds !== undefined)
		return `${mode}, ${m.precopy_rounds} rounds (${bytes(m.bytes_precopy)})`;
	if (mode === "post-copy" && m.faults !== null && m.faults !== undefined)
		return `${mode}, ${m.faults} faults, last page ${secs(m.last_page_s)}`;
	return mode;
}

function drawMoves(moves) {
	fill("moves", moves.slice().reverse().map(m => el("tr", {"data-move": m.id, "class": m.state === "failed" ? "failed" : ""},
		el("td", {}, m.id),
		el("td", {}, m.container),
		el("td", {}, `${m.source} → ${m.target}`),
		el("td", {"class": "state"}, m.state),
		el("td", {}, m.reason),
		el("td", {"class": "mode"}, modeText(m)),
		el("td", {}, m.diff === null ? "–" : m.diff ? "diff" : "full"),
		el("td", {"class": "num bytes"}, bytes(moveBytes(m))),
		el("td", {"class": "num"}, secs(m.downtime_s)),
		el("td", {"class": "num"}, secs(m.total_s)),
		el("td", {}, m.error || ""))));
	drawPlot(moves.filter(m => m.state === "done"));
}

// bars: bytes per move (left axis), downtime per move (right axis)
function drawPlot(moves) {
	const p = document.getElementById("plot");
	const W = 720, H = 220, L = 60, R = 60, T = 10, B = 40;
	const maxB = Math.max(1, ...moves.map(m => moveBytes(m) || 0));
	const maxD = Math.max(0.001, ...moves.map(m => m.downtime_s || 0));
	const n = Math.max(moves.length, 1), slot = (W - L - R) / n, bw = Math.max(2, slot / 2 - 2);
	const kids = [
		svg("line", {x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#888"}),
		svg("text", {x: 4, y: T + 10}, bytes(maxB)),
		svg("text", {x: W - R + 4, y: T + 10}, maxD.toFixed(2) + " s"),
		svg("text", {x: 4, y: H - B}, "0"),
	];
	moves.forEach((m, i) => {
		const x = L + i * slot, hb = ((moveBytes(m) || 0) / maxB) * (H - T - B), hd = ((m.downtime_s || 0) / maxD) * (H - T - B);
		kids.push(svg("rect", {"class": "bytes", x: x + 1, y: H - B - hb, width: bw, height: hb}));
		kids.push(svg("rect", {"class": "down", x: x + 1 + bw, y: H - B - hd, width: bw, height: hd}));
		kids.push(svg("text", {x: x + 1, y: H - B + 12}, m.container.slice(0, 10)));
		kids.push(svg("text", {x: x + 1, y: H - B + 24}, m.target.slice(0, 10)));
	});
	if (moves.length === 0)
		kids.push(svg("text", {x: W / 2 - 40, y: H / 2}, "no moves yet"));
	p.replaceChildren(...kids);
	p.setAttribute("data-moves", String(moves.length));
}

function drawTimetable(classes) {
	fill("timetable", classes.map(c => el("tr", {},
		el("td", {}, c.room), el("td", {}, c.summary), el("td", {}, when(c.start)), el("td", {}, when(c.end)))));
}

async function refresh() {
	const status = document.getElementById("status");
	try {
		const [n, c, m, t] = await Promise.all([api("nodes"), api("containers"), api("moves"), api("timetable")]);
		const now = Date.now() / 1000;
		drawNodes(n.nodes, t.classes, now);
		drawContainers(c.containers);
		drawMoves(m.moves);
		drawTimetable(t.classes);
		status.className = "";
		status.textContent = `updated ${new Date().toISOString().slice(11, 19)} UTC — ${n.nodes.length} nodes, ` +
			`${c.containers.length} containers, ${m.moves.length} moves`;
		document.body.setAttribute("data-updated", String(Date.now()));
	} catch (e) {
		status.className = "error";
		status.textContent = "cannot read the API: " + e.message;
	}
}

function start() {
	const m = /(?:^|[#&])token=([^&]+)/.exec(location.hash);
	if (m) {
		sessionStorage.setItem("zanshin-token", decodeURIComponent(m[1]));
		history.replaceState(null, "", location.pathname); // keep the token out of the address bar
	}
	token = sessionStorage.getItem("zanshin-token");
	if (!token) {
		document.getElementById("login").hidden = false;
		document.getElementById("status").textContent = "a token is needed";
		document.getElementById("login").addEventListener("submit", ev => {
			ev.preventDefault();
			sessionStorage.setItem("zanshin-token", document.getElementById("token").value);
			location.reload();
		});
		return;
	}
	document.getElementById("main").hidden = false;
	refresh();
	setInterval(refresh, REFRESH_MS);
}

document.addEventListener("DOMContentLoaded", start);
