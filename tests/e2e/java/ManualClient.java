// A SenseID client as a Java developer would write it from the API manual alone:
// AES/GCM/NoPadding with the key and IV as UTF-8 bytes and a 128-bit tag, standard Base64,
// Apache HttpClient 4 with UrlEncodedFormEntity, the request shapes of the manual's samples.
// Usage: ManualClient BASE_URL KEY IV IMG1 IMG2 [VIDEO]
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;

import org.apache.http.NameValuePair;
import org.apache.http.client.entity.UrlEncodedFormEntity;
import org.apache.http.client.methods.CloseableHttpResponse;
import org.apache.http.client.methods.HttpPost;
import org.apache.http.impl.client.CloseableHttpClient;
import org.apache.http.impl.client.HttpClients;
import org.apache.http.message.BasicNameValuePair;
import org.apache.http.util.EntityUtils;

public class ManualClient {
    static String seal(byte[] plain, String key, String iv) throws Exception {
        Cipher gcm = Cipher.getInstance("AES/GCM/NoPadding");
        gcm.init(Cipher.ENCRYPT_MODE,
                new SecretKeySpec(key.getBytes(StandardCharsets.UTF_8), "AES"),
                new GCMParameterSpec(128, iv.getBytes(StandardCharsets.UTF_8)));
        return Base64.getEncoder().encodeToString(gcm.doFinal(plain));
    }

    static void call(CloseableHttpClient http, String url, List<NameValuePair> form) throws Exception {
        HttpPost post = new HttpPost(url);
        post.setEntity(new UrlEncodedFormEntity(form));
        try (CloseableHttpResponse resp = http.execute(post)) {
            System.out.println(resp.getStatusLine().getStatusCode() + " " + EntityUtils.toString(resp.getEntity()));
        }
    }

    public static void main(String[] args) throws Exception {
        String base = args[0], key = args[1], iv = args[2];
        String a = seal(Files.readAllBytes(Paths.get(args[3])), key, iv);
        String b = seal(Files.readAllBytes(Paths.get(args[4])), key, iv);
        try (CloseableHttpClient http = HttpClients.createDefault()) {
            List<NameValuePair> pair = new ArrayList<>();
            pair.add(new BasicNameValuePair("first_encrypted_image", a));
            pair.add(new BasicNameValuePair("second_encrypted_image", b));
            call(http, base + "/identity/image_verification/stateless", pair);

            List<NameValuePair> multi = new ArrayList<>(pair);
            multi.add(new BasicNameValuePair("auto_rotate", "true"));
            call(http, base + "/identity/multiface_image_omni_verification/stateless", multi);

            List<NameValuePair> one = new ArrayList<>();
            one.add(new BasicNameValuePair("encrypted_image", a));
            call(http, base + "/quality/face/stateless", one);

            if (args.length > 5) {  // manual 3.1 and 1.4, as their Java samples send them
                String video = seal(Files.readAllBytes(Paths.get(args[5])), key, iv);
                List<NameValuePair> silent = new ArrayList<>();
                silent.add(new BasicNameValuePair("encrypted_video", video));
                silent.add(new BasicNameValuePair("return_image", "true"));
                silent.add(new BasicNameValuePair("return_face_image", "true"));
                silent.add(new BasicNameValuePair("return_status", "true"));
                call(http, base + "/liveness/silent_detection/stateless", silent);

                List<NameValuePair> both = new ArrayList<>();
                both.add(new BasicNameValuePair("encrypted_video", video));
                both.add(new BasicNameValuePair("encrypted_image", a));
                both.add(new BasicNameValuePair("auto_rotate", "true"));
                both.add(new BasicNameValuePair("return_image", "true"));
                both.add(new BasicNameValuePair("return_face_image", "true"));
                both.add(new BasicNameValuePair("return_status", "true"));
                call(http, base + "/identity/silent_image_verification/stateless", both);
            }
        }
    }
}
