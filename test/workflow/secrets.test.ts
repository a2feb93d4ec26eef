import { describe, expect, it } from "vitest";
import { isSecretName, MASK, maskSecrets, maskText, maskUrl } from "../../services/workflow/secrets.js";

describe("masking secrets (workflow/secrets.ts)", () => {
  it("knows secret-looking names, and leaves the others", () => {
    for (const name of [
      "Authorization",
      "set-cookie",
      "x-api-key",
      "apiKey",
      "access_token",
      "password",
      "X-Signature",
      "client_secret",
      "sessionId",
      "key",
    ]) {
      expect(isSecretName(name), name).toBe(true);
    }
    for (const name of ["status", "page", "user", "content-type", "monkeying", "data"]) {
      expect(isSecretName(name), name).toBe(false);
    }
  });

  it("masks values under secret names at any depth, and URLs in strings, without touching the original", () => {
    const value = {
      a: [{ token: "t1", ok: 1 }],
      nested: { deep: { password: "p" } },
      link: "see https://h/x?api_key=k&q=1",
    };
    expect(maskSecrets(value)).toEqual({
      a: [{ token: MASK, ok: 1 }],
      nested: { deep: { password: MASK } },
      link: "see https://h/x?api_key=%5Bredacted%5D&q=1",
    });
    expect(value.a[0]?.token).toBe("t1");
  });

  it("masks a URL's password and secret query values; text without URLs is as it was", () => {
    expect(maskUrl("https://ada:pw@h.example/p?sig=1&signature=s")).toBe(
      "https://ada:%5Bredacted%5D@h.example/p?sig=1&signature=%5Bredacted%5D",
    );
    expect(maskUrl("not a url")).toBe("not a url");
    expect(maskText("GET https://h/?token=abc failed")).toBe("GET https://h/?token=%5Bredacted%5D failed");
  });
});
