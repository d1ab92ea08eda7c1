// The one script on the patient pages: draws the clinics of this page on a Leaflet map.
// Leaflet comes from the datasette-leaflet plugin (served by this Datasette); tiles come from
// OpenStreetMap. Every clinic on the map is also listed in the page, which works without it.
const dataElement = document.getElementById("kad-map-data");
const box = document.getElementById("kad-map");
const script = document.querySelector("script[data-leaflet]");

async function draw() {
  if (!dataElement || !box || !script) return;
  const data = JSON.parse(dataElement.textContent);
  if (!data || !data.points || !data.points.length) return;
  const L = await import(script.dataset.leaflet);
  box.textContent = "";
  const map = L.map(box, { scrollWheelZoom: false });
  L.tileLayer("https://tile.openstreetmap.org/{z}/{x}/{y}.png", {
    maxZoom: 19,
    attribution: '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors',
  }).addTo(map);
  const bounds = [];
  if (data.origin) {
    L.circleMarker([data.origin.lat, data.origin.lon], {
      radius: 7, color: "#1b1b1b", weight: 2, fillColor: "#ffffff", fillOpacity: 1,
    }).addTo(map).bindTooltip("Search center: " + data.origin.label);
    bounds.push([data.origin.lat, data.origin.lon]);
  }
  for (const point of data.points) {
    const popup = document.createElement("div");
    popup.className = "kad-popup";
    const link = document.createElement("a");
    link.href = point.url;            // our own clinic page address
    link.textContent = point.name;    // text, never HTML: names come from scraped pages
    popup.appendChild(link);
    const detail = document.createElement("p");
    const parts = [];
    if (point.distance_miles !== null && point.distance_miles !== undefined) parts.push(point.distance_miles + " miles");
    if (point.approximate) parts.push("approximate location");
    detail.textContent = parts.join(" · ");
    if (parts.length) popup.appendChild(detail);
    L.circleMarker([point.lat, point.lon], {
      radius: 9, color: "#0b4f8a", weight: 2, fillColor: point.approximate ? "#9cc3e6" : "#0b4f8a", fillOpacity: 0.85,
    }).addTo(map).bindPopup(popup);
    bounds.push([point.lat, point.lon]);
  }
  if (bounds.length === 1) {
    map.setView(bounds[0], 11);
  } else {
    map.fitBounds(bounds, { padding: [30, 30], maxZoom: 12 });
  }
  box.dataset.ready = "true";
}

draw().catch((error) => {
  if (box) box.dataset.error = String(error);
});
