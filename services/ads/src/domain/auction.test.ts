import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ecpmOf, predictedCtr, runAuction, type Bidder } from "./auction.js";

const cpm = (item: string, bidMinor: number, rate = 1): Bidder<string> => ({ item, kind: "cpm", bidMinor, ctr: 0.01, rate });
const cpc = (item: string, bidMinor: number, ctr: number, rate = 1): Bidder<string> => ({ item, kind: "cpc", bidMinor, ctr, rate });

describe("runAuction", () => {
  it("when CPM bids compete for one slot, then the highest wins and pays the second bid", () => {
    expect(runAuction([cpm("a", 300), cpm("b", 500), cpm("c", 400)], 1, 1)).toEqual([{ item: "b", ecpm: 500, price: 400 }]);
  });

  it("when a CPC bid wins, then its eCPM is bid × CTR × 1000 and its click price is what keeps that rank", () => {
    // a: 50 × 0.02 × 1000 = 1000 eCPM; b: CPM 600 → a pays 600 / (0.02 × 1000) = 30 per click.
    expect(runAuction([cpc("a", 50, 0.02), cpm("b", 600)], 1, 1)).toEqual([{ item: "a", ecpm: 1000, price: 30 }]);
  });

  it("when there are several slots, then each winner pays the eCPM of the one ranked below it (generalised second price)", () => {
    const wins = runAuction([cpm("a", 100), cpm("b", 400), cpm("c", 300), cpm("d", 200)], 3, 1);
    expect(wins.map((w) => [w.item, w.price])).toEqual([
      ["b", 300],
      ["c", 200],
      ["d", 100],
    ]);
  });

  it("when alone or above only the reserve, then the winner pays the reserve; under the reserve it does not take part", () => {
    expect(runAuction([cpm("a", 500)], 1, 50)).toEqual([{ item: "a", ecpm: 500, price: 50 }]);
    expect(runAuction([cpm("a", 40)], 1, 50)).toEqual([]);
  });

  it("when bids are in currencies of different value, then they rank by converted eCPM and pay in their own currency", () => {
    // b bids 3000 minor of a currency worth 0.2: eCPM 600 > a's 500; b pays 500 / 0.2 = 2500 of its own.
    expect(runAuction([cpm("a", 500), cpm("b", 3000, 0.2)], 1, 1)).toEqual([{ item: "b", ecpm: 600, price: 2500 }]);
  });

  it("for any bids: winners are the top eCPMs in order, nobody pays more than its bid, and nobody pays less than the next eCPM needs", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 10_000 }), fc.double({ min: 0.001, max: 0.5, noNaN: true })), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 1, max: 4 }),
        (specs, slots) => {
          const bidders = specs.map(([isCpm, bid, ctr], i) => (isCpm ? cpm(`x${i}`, bid) : cpc(`x${i}`, bid, ctr)));
          const wins = runAuction(bidders, slots, 1);
          const sorted = bidders.map(ecpmOf).filter((e) => e >= 1).sort((a, b) => b - a);
          expect(wins.map((w) => w.ecpm)).toEqual(sorted.slice(0, slots));
          wins.forEach((w, i) => {
            const b = bidders.find((x) => x.item === w.item)!;
            expect(w.price).toBeLessThanOrEqual(b.bidMinor);
            const next = sorted[i + 1] ?? 1;
            // What the price buys (in eCPM) is at least the next bidder's eCPM, unless the bid itself is the cap.
            if (w.price < b.bidMinor) expect(ecpmOf({ ...b, bidMinor: w.price })).toBeGreaterThanOrEqual(next - 1e-6);
          });
        },
      ),
    );
  });
});

describe("predictedCtr", () => {
  it("when nothing is observed, then it is the prior; with data, it moves toward the observed rate", () => {
    expect(predictedCtr(0, 0, 0.01, 200)).toBeCloseTo(0.01);
    expect(predictedCtr(50, 1000, 0.01, 200)).toBeCloseTo((50 + 2) / 1200);
    expect(predictedCtr(5000, 100_000, 0.01, 200)).toBeCloseTo(0.05, 2);
  });
});
