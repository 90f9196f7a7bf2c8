// Interop test client for msign-soap: a plain WCF client built (with Mono's
// svcutil + mcs, see build.sh) from the reference WSDL of the real MSign
// service, exactly as an integrator's .NET application would be.
//
// Usage:
//   MSignClient.exe post     URL [expectedSignerID]
//   MSignClient.exe post-pdf URL file.pdf
//   MSignClient.exe get      URL requestID [language]
//   MSignClient.exe verify   URL
//
// Output: one "key=value" per line on stdout. Values are escaped so that each
// one fits on a single line: "\\" stands for a backslash, "\n" and "\r" for
// line breaks, and the whole value "\N" means null (as WCF deserialized it).
// Byte arrays are printed in base64.
//
// Exit codes: 0 success, 1 unexpected exception, 2 usage error,
//             3 FaultException (fault.code= / fault.reason= printed).
//
// On Unix the process ends with _exit() once the output is flushed: Mono 6.8
// sometimes hangs 5-60 s in runtime shutdown after Main returns, waiting for a
// parked thread-pool worker to time out (seen as ~1 run in 300). That is a
// Mono quirk, unrelated to the SOAP exchange, and would only make tests slow.
using System;
using System.IO;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.ServiceModel;
using System.Text;
using msign.gov.md;

public static class InteropClient
{
    // A syntactically valid IDNP (13 digits, check digit = weighted 7,3,1 sum mod 10).
    const string ValidIdnp = "2002001234563";

    static string Escape(string value)
    {
        if (value == null)
            return "\\N";
        return value.Replace("\\", "\\\\").Replace("\n", "\\n").Replace("\r", "\\r");
    }

    static string B64(byte[] value)
    {
        return value == null ? "\\N" : Convert.ToBase64String(value);
    }

    static void Out(string key, string value)
    {
        Console.Out.Write(key + "=" + Escape(value) + "\n");
    }

    static void OutRaw(string key, string value)
    {
        Console.Out.Write(key + "=" + value + "\n");
    }

    static MSignClient CreateClient(string url)
    {
        var uri = new Uri(url);
        var binding = new BasicHttpBinding(
            uri.Scheme == Uri.UriSchemeHttps ? BasicHttpSecurityMode.Transport : BasicHttpSecurityMode.None);
        // The tests only talk to 127.0.0.1: never route through an ambient proxy.
        binding.UseDefaultWebProxy = false;
        binding.MaxReceivedMessageSize = 64 * 1024 * 1024;
        binding.ReaderQuotas.MaxArrayLength = 64 * 1024 * 1024;
        binding.ReaderQuotas.MaxStringContentLength = 64 * 1024 * 1024;
        binding.OpenTimeout = TimeSpan.FromSeconds(30);
        binding.SendTimeout = TimeSpan.FromSeconds(30);
        binding.ReceiveTimeout = TimeSpan.FromSeconds(30);
        binding.CloseTimeout = TimeSpan.FromSeconds(10);
        return new MSignClient(binding, new EndpointAddress(uri));
    }

    // Close the channel without letting a failing Close() hide the real outcome.
    static void Release(MSignClient client)
    {
        try
        {
            if (client.State == CommunicationState.Faulted)
                client.Abort();
            else
                client.Close();
        }
        catch (Exception)
        {
            client.Abort();
        }
    }

    static byte[] Sha1(string text)
    {
        using (var sha1 = SHA1.Create())
            return sha1.ComputeHash(Encoding.UTF8.GetBytes(text));
    }

    static void PrintRequestContents(SignRequest request)
    {
        OutRaw("contents.count", request.Contents.Length.ToString());
        for (int i = 0; i < request.Contents.Length; i++)
        {
            Out("content." + i + ".correlation_id", request.Contents[i].CorrelationID);
            OutRaw("content." + i + ".content", B64(request.Contents[i].Content));
            Out("content." + i + ".name", request.Contents[i].Name);
        }
    }

    static int Post(string url, string signerId)
    {
        var correlationId = Guid.NewGuid().ToString("N");
        var request = new SignRequest
        {
            ContentType = ContentType.Hash,
            ContentDescription = "Interop test: hash content signed from a WCF client",
            ShortContentDescription = "Interop hash",
            Contents = new[]
            {
                new SignContent
                {
                    Content = Sha1("msign-soap interop " + correlationId),
                    CorrelationID = correlationId,
                    Name = null,
                },
            },
            ExpectedSigner = new ExpectedSigner { ID = signerId ?? ValidIdnp },
        };
        var client = CreateClient(url);
        try
        {
            Out("request_id", client.PostSignRequest(request));
        }
        finally
        {
            Release(client);
        }
        PrintRequestContents(request);
        return 0;
    }

    static int PostPdf(string url, string path)
    {
        var request = new SignRequest
        {
            ContentType = ContentType.Pdf,
            ContentDescription = "Interop test: PDF document signed from a WCF client",
            ShortContentDescription = "Interop PDF",
            SignatureReason = "Interop test approval",
            Contents = new[]
            {
                new SignContent
                {
                    Content = File.ReadAllBytes(path),
                    CorrelationID = Guid.NewGuid().ToString("N"),
                    MultipleSignatures = true,
                    Name = "doc.pdf",
                },
            },
        };
        var client = CreateClient(url);
        try
        {
            Out("request_id", client.PostSignRequest(request));
        }
        finally
        {
            Release(client);
        }
        PrintRequestContents(request);
        return 0;
    }

    static int Get(string url, string requestId, string language)
    {
        SignResponse response;
        var client = CreateClient(url);
        try
        {
            response = client.GetSignResponse(requestId, language);
        }
        finally
        {
            Release(client);
        }
        if (response == null)
        {
            OutRaw("response", "\\N");
            return 0;
        }
        Out("status", response.Status.ToString());
        Out("message", response.Message);
        if (response.Results == null)
        {
            OutRaw("results.count", "\\N");
            return 0;
        }
        OutRaw("results.count", response.Results.Length.ToString());
        for (int i = 0; i < response.Results.Length; i++)
        {
            var result = response.Results[i];
            if (result == null)
            {
                OutRaw("result." + i, "\\N");
                continue;
            }
            Out("result." + i + ".correlation_id", result.CorrelationID);
            OutRaw("result." + i + ".certificate", B64(result.Certificate));
            OutRaw("result." + i + ".signature", B64(result.Signature));
        }
        return 0;
    }

    static int Verify(string url)
    {
        var request = new VerificationRequest
        {
            SignedContentType = ContentType.Hash,
            Contents = new[]
            {
                new VerificationContent
                {
                    Content = Sha1("msign-soap interop verify"),
                    CorrelationID = Guid.NewGuid().ToString("N"),
                    Signature = Encoding.ASCII.GetBytes("not a real CMS signature"),
                },
            },
        };
        VerificationResponse response;
        var client = CreateClient(url);
        try
        {
            response = client.VerifySignatures(request);
        }
        finally
        {
            Release(client);
        }
        if (response == null || response.Results == null)
        {
            OutRaw("results.count", "\\N");
            return 0;
        }
        OutRaw("results.count", response.Results.Length.ToString());
        for (int i = 0; i < response.Results.Length; i++)
        {
            var result = response.Results[i];
            if (result == null)
            {
                OutRaw("result." + i, "\\N");
                continue;
            }
            Out("result." + i + ".correlation_id", result.CorrelationID);
            Out("result." + i + ".signatures_valid", result.SignaturesValid ? "true" : "false");
            Out("result." + i + ".message", result.Message);
        }
        return 0;
    }

    static int Usage()
    {
        Console.Error.WriteLine(
            "usage: MSignClient.exe post URL [expectedSignerID]\n" +
            "       MSignClient.exe post-pdf URL file.pdf\n" +
            "       MSignClient.exe get URL requestID [language]\n" +
            "       MSignClient.exe verify URL");
        return 2;
    }

    [DllImport("libc", EntryPoint = "_exit")]
    static extern void NativeExit(int status);

    public static int Main(string[] args)
    {
        int code = Run(args);
        Console.Out.Flush();
        Console.Error.Flush();
        if (Environment.OSVersion.Platform == PlatformID.Unix)
        {
            try
            {
                NativeExit(code);
            }
            catch (Exception)
            {
                // No libc _exit: fall back to the normal (possibly slow) shutdown.
            }
        }
        return code;
    }

    static int Run(string[] args)
    {
        if (args.Length < 2)
            return Usage();
        try
        {
            switch (args[0])
            {
                case "post":
                    if (args.Length > 3) return Usage();
                    return Post(args[1], args.Length > 2 ? args[2] : null);
                case "post-pdf":
                    if (args.Length != 3) return Usage();
                    return PostPdf(args[1], args[2]);
                case "get":
                    if (args.Length < 3 || args.Length > 4) return Usage();
                    return Get(args[1], args[2], args.Length > 3 ? args[3] : null);
                case "verify":
                    if (args.Length != 2) return Usage();
                    return Verify(args[1]);
                default:
                    return Usage();
            }
        }
        catch (FaultException fault)
        {
            // Untyped SOAP 1.1 fault: <faultcode> is exposed as Code.Name
            // (Code.Namespace holds the namespace of its prefix, if any).
            Out("fault.code", fault.Code == null ? null : fault.Code.Name);
            Out("fault.code_namespace", fault.Code == null ? null : fault.Code.Namespace);
            Out("fault.reason", fault.Reason == null ? null : fault.Reason.ToString());
            Out("fault.type", fault.GetType().FullName);
            return 3;
        }
        catch (Exception error)
        {
            Out("error.type", error.GetType().FullName);
            Out("error.message", error.Message);
            Console.Error.WriteLine(error.ToString());
            return 1;
        }
    }
}
