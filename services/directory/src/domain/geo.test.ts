import { describe, expect, it } from "vitest";
import { cellSize, coveringCells, distanceKm, EARTH_RADIUS_KM, GEO_PRECISIONS, geohash, geoLexemes } from "./geo.js";
import { prng } from "../../bench/generate.js";

describe("geohash", () => {
  it("when encoding a known point, then it matches the reference hash", () => {
    expect(geohash({ lat: 57.64911, lng: 10.40744 }, 11)).toBe("u4pruydqqvj");
    expect(geoLexemes({ lat: 52.52, lng: 13.405 })).toEqual(["@u33", "@u33d", "@u33dc", "@u33dc0"]);
  });
});

describe("coveringCells", () => {
  it("when a circle fits the coarsest cells, then there is a cover and one of its cells contains any point within the radius", () => {
    const r = prng(7);
    const [coarsest] = cellSize(GEO_PRECISIONS[0]);
    for (let i = 0; i < 3000; i++) {
      const centre = { lat: (r() - 0.5) * 150, lng: (r() - 0.5) * 359.9 };
      // Up to 90 % of what a coarsest cell spans here (its longitude span shrinks with cos(latitude)),
      // so every circle has a cover: a missing one is a failure, not a case to skip.
      const fitsKm = 0.9 * coarsest * Math.cos((centre.lat * Math.PI) / 180) * ((Math.PI / 180) * EARTH_RADIUS_KM);
      const radiusKm = 0.2 + r() * (fitsKm - 0.2);
      const cells = coveringCells(centre, radiusKm);
      if (!cells) expect.fail(`no cover for ${JSON.stringify({ centre, radiusKm })}`);
      // A point at a random bearing, just inside the radius.
      const bearing = r() * 2 * Math.PI;
      const d = (radiusKm * (0.95 + 0.05 * r())) / 6371.0088;
      const phi1 = (centre.lat * Math.PI) / 180;
      const lambda1 = (centre.lng * Math.PI) / 180;
      const phi2 = Math.asin(Math.sin(phi1) * Math.cos(d) + Math.cos(phi1) * Math.sin(d) * Math.cos(bearing));
      const lambda2 = lambda1 + Math.atan2(Math.sin(bearing) * Math.sin(d) * Math.cos(phi1), Math.cos(d) - Math.sin(phi1) * Math.sin(phi2));
      let lng = (lambda2 * 180) / Math.PI;
      if (lng >= 180) lng -= 360;
      if (lng < -180) lng += 360;
      const p = { lat: (phi2 * 180) / Math.PI, lng };
      expect(distanceKm(centre, p)).toBeLessThanOrEqual(radiusKm);
      const lexemes = geoLexemes(p);
      expect(cells.some((c) => lexemes.includes(c))).toBe(true);
    }
  });

  it("when the circle is too big for the coarsest cells, then there is no cover", () => {
    expect(coveringCells({ lat: 0, lng: 0 }, 500)).toBeUndefined();
    expect(coveringCells({ lat: 89.99, lng: 0 }, 5)).toBeUndefined();
  });
});
