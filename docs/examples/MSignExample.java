// Post a hash to msign-soap and read the outcome, from Java (JAX-WS).
//
//   mkdir -p src classes
//   wsimport -keep -Xnocompile -d src "http://127.0.0.1:8080/MSign.svc?singleWsdl"
//   javac -d classes -cp "$JAXWS" $(find src -name '*.java') MSignExample.java
//   java -cp "classes:$JAXWS" MSignExample http://127.0.0.1:8080/MSign.svc             # the RequestID
//   java -cp "classes:$JAXWS" MSignExample http://127.0.0.1:8080/MSign.svc REQUEST_ID  # its status
//
// $JAXWS: the JAX-WS runtime's jars, colon-separated (JDK 11 and later ship none): Debian's
// jaxws package in /usr/share/java; tests/interop/java/build.sh lists them.
import https.msign_gov.ArrayOfSignContent;
import https.msign_gov.ContentType;
import https.msign_gov.ExpectedSigner;
import https.msign_gov.IMSign;
import https.msign_gov.MSignService;
import https.msign_gov.ObjectFactory;
import https.msign_gov.SignContent;
import https.msign_gov.SignRequest;
import https.msign_gov.SignResponse;
import https.msign_gov.SignResult;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.UUID;

import javax.xml.ws.BindingProvider;
import javax.xml.ws.soap.SOAPFaultException;

public final class MSignExample {
    public static void main(String[] args) throws Exception {
        IMSign port = new MSignService().getBasicHttpBindingIMSign();
        // the WSDL's address, or another one (staging, production):
        ((BindingProvider) port).getRequestContext().put(BindingProvider.ENDPOINT_ADDRESS_PROPERTY, args[0]);
        ObjectFactory of = new ObjectFactory();
        try {
            if (args.length == 1) {
                SignContent content = new SignContent();
                content.setContent(MessageDigest.getInstance("SHA-1")
                        .digest("Contract no. 12".getBytes(StandardCharsets.UTF_8)));
                content.setCorrelationID(of.createSignContentCorrelationID(UUID.randomUUID().toString()));
                ArrayOfSignContent contents = new ArrayOfSignContent();
                contents.getSignContent().add(content);
                ExpectedSigner signer = new ExpectedSigner();
                signer.setID("2004001234567"); // the signer's IDNP
                SignRequest request = new SignRequest();
                request.setContentType(ContentType.HASH);
                request.setContents(contents);
                request.setShortContentDescription("Contract no. 12");
                request.setExpectedSigner(of.createSignRequestExpectedSigner(signer));
                System.out.println(port.postSignRequest(request));
            } else {
                SignResponse response = port.getSignResponse(args[1], "en");
                // optional members are JAXBElements; Message is nil but for Failure and Expired
                String message = response.getMessage() == null ? null : response.getMessage().getValue();
                System.out.println(response.getStatus() + (message != null ? ": " + message : ""));
                if (response.getResults() != null) { // nil while Pending
                    for (SignResult result : response.getResults().getSignResult()) {
                        System.out.println(result.getCorrelationID().getValue() + ": "
                                + result.getSignature().getValue().length + " bytes");
                    }
                }
            }
        } catch (SOAPFaultException e) {
            // InvalidParameter, RequestNotFound, AuthenticationFailed, AuthorizationFailed
            System.err.println(e.getFault().getFaultCodeAsQName().getLocalPart() + ": " + e.getFault().getFaultString());
            System.exit(3);
        }
    }
}
