using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Playwright;
using Portal.Testing;

namespace Portal.E2E;

/// <summary>
/// A platform admin finds the platform CA in the Admin menu, checks its fingerprint, is told in the page what is wrong
/// with a bad import (and nothing changes), and imports a CA with its key.
/// </summary>
public sealed class CertificateAuthorityPageTests(BrowserFixture fixture) : IClassFixture<BrowserFixture>
{
    [Fact]
    public async Task Admin_SeesTheCa_BadImportIsExplainedAndChangesNothing_GoodImportIsTaken()
    {
        var certificatePem = await File.ReadAllTextAsync(Path.Combine(TestEnvironment.CaDirectory, "ca.crt"));
        var keyPem = await File.ReadAllTextAsync(Path.Combine(TestEnvironment.CaDirectory, "ca.key"));
        using var certificate = X509Certificate2.CreateFromPem(certificatePem);
        var fingerprint = Convert.ToHexString(certificate.GetCertHash(HashAlgorithmName.SHA256));

        var page = await fixture.NewPageAsync();
        await page.GotoAsync("/catalog");
        await fixture.SignInAsAdminAsync(page);
        await page.WaitForURLAsync("**/catalog");
        await page.Locator("[data-testid=interactive]").WaitForAsync(new() { State = WaitForSelectorState.Attached });
        await page.ClickAsync("text=Certificate authority");
        await page.WaitForURLAsync("**/admin/ca");
        await Assertions.Expect(page.Locator("[data-testid=ca-subject]")).ToContainTextAsync(certificate.GetNameInfo(X509NameType.SimpleName, false));
        Assert.Equal(fingerprint, (await page.Locator("[data-testid=ca-fingerprint]").InnerTextAsync()).Replace(":", "", StringComparison.Ordinal).Trim());

        // A certificate with a key that is not its own: the page says why, and the CA stays.
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        await page.FillAsync("#import-certificate", certificatePem);
        await page.FillAsync("#import-key", other.ExportPkcs8PrivateKeyPem());
        await page.ClickAsync("[data-testid=import-ca]");
        await page.ClickAsync(".mud-dialog button:has-text('Import')");
        await Assertions.Expect(page.Locator("[data-testid=import-error]")).ToContainTextAsync("key does not match");
        Assert.Equal(fingerprint, (await fixture.RunAsync<Portal.Application.Certificates.GetPlatformCaHandler, Portal.Application.Certificates.CaView>(
            h => h.HandleAsync())).Sha256Fingerprint.Replace(":", "", StringComparison.Ordinal));

        // The right key: imported (the same CA here, so the servers the other tests use still trust what Portal issues).
        await page.FillAsync("#import-key", keyPem);
        await page.ClickAsync("[data-testid=import-ca]");
        await page.ClickAsync(".mud-dialog button:has-text('Import')");
        await Assertions.Expect(page.GetByText("Platform CA imported")).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("[data-testid=ca-pem]")).ToContainTextAsync("BEGIN CERTIFICATE");
        await Assertions.Expect(page.Locator("[data-testid=ca-source]")).ToHaveTextAsync("imported");
        await Assertions.Expect(page.Locator("[data-testid=import-error]")).ToHaveCountAsync(0);
        await page.ScreenshotAsync(new() { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, "certificate-authority.png"), FullPage = true });
    }
}
