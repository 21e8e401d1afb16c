import { InvalidInput } from "@kontor/service-kit/errors";

export interface LatLng {
  lat: number;
  lng: number;
}

const BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz";

/** Geohash precisions indexed as "@<hash>" lexemes in every business's search document. */
export const GEO_PRECISIONS = [3, 4, 5, 6] as const;

export function geohash(p: LatLng, precision: number): string {
  let latLo = -90;
  let latHi = 90;
  let lngLo = -180;
  let lngHi = 180;
  let out = "";
  let bit = 0;
  let ch = 0;
  let even = true;
  while (out.length < precision) {
    if (even) {
      const mid = (lngLo + lngHi) / 2;
      if (p.lng >= mid) {
        ch = (ch << 1) | 1;
        lngLo = mid;
      } else {
        ch <<= 1;
        lngHi = mid;
      }
    } else {
      const mid = (latLo + latHi) / 2;
      if (p.lat >= mid) {
        ch = (ch << 1) | 1;
        latLo = mid;
      } else {
        ch <<= 1;
        latHi = mid;
      }
    }
    even = !even;
    if (++bit === 5) {
      out += BASE32[ch];
      bit = 0;
      ch = 0;
    }
  }
  return out;
}

/** Cell size in degrees at a precision: [lat, lng]. */
export function cellSize(precision: number): [number, number] {
  const bits = precision * 5;
  const lngBits = Math.ceil(bits / 2);
  const latBits = Math.floor(bits / 2);
  return [180 / 2 ** latBits, 360 / 2 ** lngBits];
}

/** The lexemes a business at p carries in its search document ("@u33d", "@u33db", …). */
export function geoLexemes(p: LatLng): string[] {
  return GEO_PRECISIONS.map((n) => `@${geohash(p, n)}`);
}

/** Mean Earth radius (km); the database's dir_distance_km uses the same value. */
export const EARTH_RADIUS_KM = 6371.0088;

/**
 * Cells that together cover every point within radiusKm of p: the finest
 * indexed precision whose cell spans at least the circle's latitude and
 * longitude extent, then that cell and its 8 neighbours. Undefined when the
 * circle is too big for the coarsest precision or reaches a pole (the caller
 * then filters by distance alone).
 */
export function coveringCells(p: LatLng, radiusKm: number): string[] | undefined {
  const delta = radiusKm / EARTH_RADIUS_KM;
  const phi = (p.lat * Math.PI) / 180;
  const dLat = ((delta * 180) / Math.PI) * 1.0001;
  if (Math.abs(p.lat) + dLat >= 90 || Math.sin(delta) >= Math.cos(phi)) return undefined;
  // Widest longitude span of a spherical cap centred at latitude phi.
  const dLng = ((Math.asin(Math.sin(delta) / Math.cos(phi)) * 180) / Math.PI) * 1.0001;
  for (const precision of [...GEO_PRECISIONS].reverse()) {
    const [h, w] = cellSize(precision);
    if (h < dLat || w < dLng) continue;
    const cells = new Set<string>();
    for (const dy of [-h, 0, h]) {
      for (const dx of [-w, 0, w]) {
        const lat = p.lat + dy;
        if (lat > 90 || lat < -90) continue;
        let lng = p.lng + dx;
        if (lng >= 180) lng -= 360;
        if (lng < -180) lng += 360;
        cells.add(`@${geohash({ lat, lng }, precision)}`);
      }
    }
    return [...cells];
  }
  return undefined;
}

/** Great-circle distance in km (haversine, mean Earth radius). */
export function distanceKm(a: LatLng, b: LatLng): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLng = (b.lng - a.lng) * rad;
  const s = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLng / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(s)));
}

export function validatePoint(p: LatLng, field: string): LatLng {
  if (!Number.isFinite(p.lat) || p.lat < -90 || p.lat > 90) throw new InvalidInput(`${field}.latitude`, "must be between -90 and 90");
  if (!Number.isFinite(p.lng) || p.lng < -180 || p.lng > 180) throw new InvalidInput(`${field}.longitude`, "must be between -180 and 180");
  return p;
}
