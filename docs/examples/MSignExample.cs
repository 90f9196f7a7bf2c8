// Post a hash to msign-soap and read the outcome, from .NET (WCF) or Mono.
//
//   svcutil --noLogo --noConfig -o MSignProxy.cs "http://127.0.0.1:8080/MSign.svc?singleWsdl"
//   mcs -out:MSignExample.exe -r:System.ServiceModel.dll -r:System.Runtime.Serialization.dll \
//       MSignExample.cs MSignProxy.cs
//   mono MSignExample.exe http://127.0.0.1:8080/MSign.svc          # prints the RequestID
//   mono MSignExample.exe http://127.0.0.1:8080/MSign.svc REQUEST_ID   # its status
using System;
using System.Security.Cryptography;
using System.ServiceModel;
using System.Text;
using msign.gov.md;

public static class MSignExample
{
    static MSignClient Connect(string url)
    {
        var address = new Uri(url);
        // https: the service asks for the e-service's client certificate (production)
        var binding = new BasicHttpBinding(address.Scheme == Uri.UriSchemeHttps
            ? BasicHttpSecurityMode.Transport : BasicHttpSecurityMode.None);
        if (address.Scheme == Uri.UriSchemeHttps)
            binding.Security.Transport.ClientCredentialType = HttpClientCredentialType.Certificate;
        binding.MaxReceivedMessageSize = 64 * 1024 * 1024;   // signed PDFs come back whole
        binding.ReaderQuotas.MaxArrayLength = 64 * 1024 * 1024;
        var client = new MSignClient(binding, new EndpointAddress(address));
        // with https, the e-service's certificate and key, for instance from a PKCS #12 file:
        // client.ClientCredentials.ClientCertificate.Certificate =
        //     new System.Security.Cryptography.X509Certificates.X509Certificate2("cadastru.p12", "password");
        return client;
    }

    public static int Main(string[] args)
    {
        var client = Connect(args[0]);
        try
        {
            if (args.Length == 1)
            {
                byte[] hash;
                using (var sha1 = SHA1.Create())
                    hash = sha1.ComputeHash(Encoding.UTF8.GetBytes("Contract no. 12"));
                var request = new SignRequest
                {
                    ContentType = ContentType.Hash,
                    ShortContentDescription = "Contract no. 12",
                    Contents = new[] { new SignContent { Content = hash, CorrelationID = Guid.NewGuid().ToString("N") } },
                    ExpectedSigner = new ExpectedSigner { ID = "2004001234567" },   // the signer's IDNP
                };
                Console.WriteLine(client.PostSignRequest(request));
            }
            else
            {
                var response = client.GetSignResponse(args[1], "en");
                Console.WriteLine(response.Status + (response.Message != null ? ": " + response.Message : ""));
                if (response.Results != null)
                    foreach (var result in response.Results)
                        Console.WriteLine(result.CorrelationID + ": " + result.Signature.Length + " bytes");
            }
            client.Close();
            return 0;
        }
        catch (FaultException e)
        {
            // e.Code.Name: InvalidParameter, RequestNotFound, AuthenticationFailed, AuthorizationFailed
            Console.Error.WriteLine(e.Code.Name + ": " + e.Message);
            client.Abort();
            return 3;
        }
    }
}
