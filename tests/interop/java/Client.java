/*
 * Interop client for msign-soap: a plain JAX-WS RI client built on the classes
 * that `wsimport` generates from tests/data/MSign.reference.wsdl (the real
 * MSign service's ?singleWsdl).  Nothing here is tailored to our server: it is
 * what an existing integrator's code looks like, with the endpoint overridden
 * through BindingProvider.ENDPOINT_ADDRESS_PROPERTY.
 *
 * Usage:
 *   java Client post     URL [IDNP]          PostSignRequest, ContentType=Hash
 *   java Client post-nil URL                 same, optional strings sent as xsi:nil
 *   java Client post-pdf URL FILE.pdf        PostSignRequest, ContentType=Pdf
 *   java Client get      URL REQUEST_ID [LANGUAGE]
 *   java Client verify   URL                 VerifySignatures, one Hash content
 *
 * Output: one `key=value` line per item on stdout (UTF-8).  In values, `\` is
 * written as `\\`, LF as `\n` and CR as `\r`.  byte[] values are base64.
 * Optional/nillable members print `<absent>` when the element was not on the
 * wire (JAXBElement == null) and `<nil>` when it was sent as xsi:nil="true";
 * plain (non-JAXBElement) members that are null print `<null>`.
 *
 * System property -Dmsign.chunkSize=N sends the request body chunked.
 *
 * Exit status: 0 ok; 3 SOAP fault (fault.code / fault.reason printed);
 * 1 any other error (error=... printed); 2 usage.
 */

import https.msign_gov.ArrayOfSignContent;
import https.msign_gov.ArrayOfSignResult;
import https.msign_gov.ArrayOfVerificationContent;
import https.msign_gov.ArrayOfVerificationResult;
import https.msign_gov.ContentType;
import https.msign_gov.ExpectedSigner;
import https.msign_gov.IMSign;
import https.msign_gov.MSignService;
import https.msign_gov.ObjectFactory;
import https.msign_gov.SignContent;
import https.msign_gov.SignRequest;
import https.msign_gov.SignResponse;
import https.msign_gov.SignResult;
import https.msign_gov.VerificationContent;
import https.msign_gov.VerificationRequest;
import https.msign_gov.VerificationResponse;
import https.msign_gov.VerificationResult;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import javax.xml.bind.JAXBElement;
import javax.xml.namespace.QName;
import javax.xml.soap.SOAPFault;
import javax.xml.ws.BindingProvider;
import javax.xml.ws.soap.SOAPFaultException;

public final class Client {

    /** A valid IDNP (check digit = sum(d[i] * 7,3,1,...) mod 10). */
    static final String DEFAULT_IDNP = "2002001234563";

    static final ObjectFactory OF = new ObjectFactory();
    static PrintStream out;

    public static void main(String[] args) {
        out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        if (args.length < 2) {
            usage();
            return;
        }
        String cmd = args[0];
        String url = args[1];
        try {
            IMSign port = port(url);
            switch (cmd) {
                case "post":
                    if (args.length > 3) { usage(); return; }
                    post(port, args.length > 2 ? args[2] : DEFAULT_IDNP, false);
                    break;
                case "post-nil":
                    if (args.length != 2) { usage(); return; }
                    post(port, DEFAULT_IDNP, true);
                    break;
                case "post-pdf":
                    if (args.length != 3) { usage(); return; }
                    postPdf(port, Files.readAllBytes(Paths.get(args[2])));
                    break;
                case "get":
                    if (args.length < 3 || args.length > 4) { usage(); return; }
                    get(port, args[2], args.length > 3 ? args[3] : null);
                    break;
                case "verify":
                    if (args.length != 2) { usage(); return; }
                    verify(port);
                    break;
                default:
                    usage();
                    return;
            }
        } catch (SOAPFaultException e) {
            SOAPFault f = e.getFault();
            QName code = f.getFaultCodeAsQName();
            kv("fault.code", code.getLocalPart());
            kv("fault.code.ns", code.getNamespaceURI());
            kv("fault.reason", f.getFaultString());
            out.flush();
            System.exit(3);
        } catch (Throwable t) {
            kv("error", t.toString());
            t.printStackTrace();
            out.flush();
            System.exit(1);
        }
        out.flush();
        System.exit(0);
    }

    static void usage() {
        System.err.println("usage: Client post URL [IDNP] | post-nil URL | post-pdf URL FILE | get URL ID [LANG] | verify URL");
        System.exit(2);
    }

    static IMSign port(String url) {
        // WSDL comes from the classpath (wsimport -wsdllocation MSign.wsdl);
        // the endpoint is overridden the way integrators point at staging/prod.
        MSignService service = new MSignService();
        IMSign port = service.getBasicHttpBindingIMSign();
        Map<String, Object> ctx = ((BindingProvider) port).getRequestContext();
        ctx.put(BindingProvider.ENDPOINT_ADDRESS_PROPERTY, url);
        ctx.put("com.sun.xml.ws.connect.timeout", 10000);
        ctx.put("com.sun.xml.ws.request.timeout", 30000);
        // -Dmsign.chunkSize=N: stream the request body with HTTP chunked
        // transfer encoding, as integrators configure it for large PDFs.
        String chunk = System.getProperty("msign.chunkSize");
        if (chunk != null) {
            ctx.put("com.sun.xml.ws.transport.http.client.streaming.chunk.size", Integer.parseInt(chunk));
        }
        return port;
    }

    static String randomCorrelationId() {
        return UUID.randomUUID().toString().replace("-", "");
    }

    /**
     * Hash request.  With {@code nil}, the optional nillable strings are set to
     * JAXBElements holding null, which JAXB writes as xsi:nil="true" (how many
     * integrators "clear" a field); otherwise they are simply not set, which
     * JAXB writes as an absent element.
     */
    static void post(IMSign port, String idnp, boolean nil) throws Exception {
        byte[] hash = MessageDigest.getInstance("SHA-1")
                .digest("msign-soap java interop: hash content".getBytes(StandardCharsets.UTF_8));
        String correlationId = randomCorrelationId();

        SignContent content = new SignContent();
        content.setContent(hash);
        content.setCorrelationID(OF.createSignContentCorrelationID(correlationId));
        if (nil) {
            content.setName(OF.createSignContentName(null));
        } // else: Name deliberately left unset (null).

        ArrayOfSignContent contents = new ArrayOfSignContent();
        contents.getSignContent().add(content);

        ExpectedSigner signer = new ExpectedSigner();
        signer.setID(idnp);
        if (nil) {
            signer.setDelegatorID(OF.createExpectedSignerDelegatorID(null));
        }

        SignRequest req = new SignRequest();
        req.setContentType(ContentType.HASH);
        req.setContents(contents);
        req.setContentDescription(OF.createSignRequestContentDescription(
                nil ? null : "Java JAX-WS interop test: SHA-1 hash"));
        req.setShortContentDescription("Java interop hash");
        req.setExpectedSigner(OF.createSignRequestExpectedSigner(signer));
        if (nil) {
            req.setSignatureReason(OF.createSignRequestSignatureReason(null));
        }

        String requestId = port.postSignRequest(req);
        kv("request_id", requestId);
        kv("correlation_id", correlationId);
        kv("content", b64(hash));
    }

    static void postPdf(IMSign port, byte[] pdf) {
        String correlationId = randomCorrelationId();

        SignContent content = new SignContent();
        content.setContent(pdf);
        content.setCorrelationID(OF.createSignContentCorrelationID(correlationId));
        content.setName(OF.createSignContentName("doc.pdf"));
        content.setMultipleSignatures(Boolean.TRUE);

        ArrayOfSignContent contents = new ArrayOfSignContent();
        contents.getSignContent().add(content);

        SignRequest req = new SignRequest();
        req.setContentType(ContentType.PDF);
        req.setContents(contents);
        req.setContentDescription(OF.createSignRequestContentDescription(
                "Java JAX-WS interop test: PDF document"));
        req.setShortContentDescription("Java interop PDF");
        req.setSignatureReason(OF.createSignRequestSignatureReason("Interop testing"));

        String requestId = port.postSignRequest(req);
        kv("request_id", requestId);
        kv("correlation_id", correlationId);
    }

    static void get(IMSign port, String requestId, String language) {
        SignResponse resp = port.getSignResponse(requestId, language);
        if (resp == null) {
            kv("response", "<null>");
            return;
        }
        kv("status", resp.getStatus() == null ? "<null>" : resp.getStatus().value());
        kv("message", str(resp.getMessage()));
        ArrayOfSignResult results = resp.getResults();
        if (results == null) {
            kv("results", "<null>");
            return;
        }
        List<SignResult> list = results.getSignResult();
        kv("results.count", Integer.toString(list.size()));
        for (int i = 0; i < list.size(); i++) {
            SignResult r = list.get(i);
            String p = "result." + i + ".";
            if (r == null) {
                kv(p + "entry", "<null>");
                continue;
            }
            kv(p + "correlation_id", str(r.getCorrelationID()));
            kv(p + "certificate", bytes(r.getCertificate()));
            kv(p + "signature", bytes(r.getSignature()));
        }
    }

    static void verify(IMSign port) throws Exception {
        byte[] hash = MessageDigest.getInstance("SHA-1")
                .digest("msign-soap java interop: verify".getBytes(StandardCharsets.UTF_8));

        VerificationContent vc = new VerificationContent();
        vc.setContent(OF.createVerificationContentContent(hash));
        vc.setCorrelationID(OF.createVerificationContentCorrelationID(randomCorrelationId()));
        vc.setSignature(new byte[] {0x30, (byte) 0x82, 0x00, 0x00});

        ArrayOfVerificationContent contents = new ArrayOfVerificationContent();
        contents.getVerificationContent().add(vc);

        VerificationRequest req = new VerificationRequest();
        req.setContents(contents);
        req.setSignedContentType(ContentType.HASH);

        VerificationResponse resp = port.verifySignatures(req);
        if (resp == null) {
            kv("response", "<null>");
            return;
        }
        ArrayOfVerificationResult results = resp.getResults();
        if (results == null) {
            kv("results", "<null>");
            return;
        }
        List<VerificationResult> list = results.getVerificationResult();
        kv("results.count", Integer.toString(list.size()));
        for (int i = 0; i < list.size(); i++) {
            VerificationResult r = list.get(i);
            String p = "result." + i + ".";
            if (r == null) {
                kv(p + "entry", "<null>");
                continue;
            }
            kv(p + "correlation_id", str(r.getCorrelationID()));
            kv(p + "message", r.getMessage() == null ? "<null>" : r.getMessage());
            kv(p + "signatures_valid", Boolean.toString(r.isSignaturesValid()));
        }
    }

    // ---- output helpers -------------------------------------------------

    static String str(JAXBElement<String> e) {
        if (e == null) return "<absent>";
        if (e.isNil() || e.getValue() == null) return "<nil>";
        return e.getValue();
    }

    static String bytes(JAXBElement<byte[]> e) {
        if (e == null) return "<absent>";
        if (e.isNil() || e.getValue() == null) return "<nil>";
        return b64(e.getValue());
    }

    static String b64(byte[] b) {
        return Base64.getEncoder().encodeToString(b);
    }

    static void kv(String key, String value) {
        String v = value == null ? "<null>" : value
                .replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r");
        out.println(key + "=" + v);
    }
}
