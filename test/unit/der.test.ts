import { describe, expect, it } from "vitest";
import { DerError, decodeOid, readTlv, readWhole } from "../../src/der/der-reader.js";
import { encodeLength, namedBitString, objectIdentifier, time, unsignedInteger } from "../../src/der/der-writer.js";

describe("DER writer", () => {
  it.each([
    [0, "00"],
    [127, "7f"],
    [128, "8180"],
    [255, "81ff"],
    [256, "820100"],
    [65536, "83010000"],
  ])("encodes length %i as %s", (n, hex) => {
    expect(encodeLength(n).toString("hex")).toBe(hex);
  });

  it.each([
    ["00", "020100"],
    ["7f", "02017f"],
    ["80", "02020080"],
    ["0000ff", "020200ff"],
    ["0001", "020101"],
  ])("encodes unsigned integer %s minimally as %s", (mag, hex) => {
    expect(unsignedInteger(Buffer.from(mag, "hex")).toString("hex")).toBe(hex);
  });

  it.each([
    ["1.2.840.10045.2.1", "06072a8648ce3d0201"],
    ["2.5.29.17", "0603551d11"],
    ["1.3.6.1.4.1.311.21.20", "06092b0601040182371514"],
  ])("encodes OID %s", (oid, hex) => {
    expect(objectIdentifier(oid).toString("hex")).toBe(hex);
    expect(decodeOid(Buffer.from(hex, "hex").subarray(2))).toBe(oid);
  });

  it.each([
    [[0], "03020780"],
    [[0, 2], "030205a0"],
    [[5, 6], "03020106"],
    [[0, 5, 6], "03020186"],
  ])("encodes named bits %j with minimal unused bits", (bits, hex) => {
    expect(namedBitString(bits).toString("hex")).toBe(hex);
  });

  it("uses UTCTime before 2050 and GeneralizedTime from 2050", () => {
    expect(time(new Date("2049-12-31T23:59:59Z")).toString("latin1").slice(2)).toBe("491231235959Z");
    expect(time(new Date("2050-01-01T00:00:00Z")).toString("latin1").slice(2)).toBe("20500101000000Z");
  });
});

describe("DER reader", () => {
  it.each([
    ["rejects/indefinite length", "3080", "indefinite"],
    ["rejects/non-minimal long length", "30810100", "non-minimal"],
    ["rejects/length past the end", "3005020100", "past the end"],
    ["rejects/truncated length", "3082", "truncated"],
    ["rejects/empty input", "", "unexpected end"],
    ["rejects/huge length", "3085ffffffffff", "too large"],
    ["rejects/multi-byte tag", "1f8101", "multi-byte"],
  ])("%s", (_name, hex, message) => {
    expect(() => readTlv(Buffer.from(hex, "hex"))).toThrow(DerError);
    expect(() => readTlv(Buffer.from(hex, "hex"))).toThrow(message);
  });

  it("rejects trailing data after the outer element", () => {
    expect(() => readWhole(Buffer.from("300000", "hex"), 0x30, "x")).toThrow("trailing");
  });

  it.each([
    ["rejects/empty OID", ""],
    ["rejects/non-minimal arc", "2a8001"],
    ["rejects/truncated arc", "2a86"],
  ])("%s", (_name, hex) => {
    expect(() => decodeOid(Buffer.from(hex, "hex"))).toThrow(DerError);
  });
});
