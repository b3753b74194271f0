// Every word the capture shows, per language: pages pass `lang`, nothing else is hard-coded.

export interface Strings {
  title: string;
  start: string;
  retry: string;
  starting: string;
  capturing: string;
  processing: string;
  passed: string;
  failed: string;
  actions: Record<string, string>;
  guidance: Record<string, string>;
  errors: Record<ErrorCode, string>;
}

export type ErrorCode =
  | "insecure_origin"
  | "no_camera"
  | "camera_denied"
  | "camera_error"
  | "connection_lost"
  | "session_expired"
  | "refused"
  | "missing_session";

export const STRINGS: Record<string, Strings> = {
  en: {
    title: "Face check",
    start: "Start the camera",
    retry: "Try again",
    starting: "Opening the camera…",
    capturing: "Keep your face in the oval and look at the screen.",
    processing: "Checking…",
    passed: "Done: the check is complete.",
    failed: "The check did not pass.",
    actions: {
      blink: "Blink",
      open_mouth: "Open your mouth",
      turn_left: "Turn your head to your left",
      turn_right: "Turn your head to your right",
      nod: "Nod",
    },
    guidance: {
      too_dark: "It is too dark: move towards the light.",
      no_face: "No face is visible: look at the screen, inside the oval.",
      several_faces: "Only one face may be in view.",
      move_closer: "Move closer to the camera.",
      hold_still: "Hold still.",
      ok: "",
    },
    errors: {
      insecure_origin: "The camera can only be used on a secure (https) page.",
      no_camera: "No camera was found on this device.",
      camera_denied: "Camera access was refused. Allow the camera for this page and try again.",
      camera_error: "The camera could not be started.",
      connection_lost: "The connection was lost. Please start again.",
      session_expired: "This session has expired. Please start again from the beginning.",
      refused: "The check could not continue:",
      missing_session: "This page was opened without a session.",
    },
  },
  fr: {
    title: "Vérification du visage",
    start: "Activer la caméra",
    retry: "Réessayer",
    starting: "Ouverture de la caméra…",
    capturing: "Gardez votre visage dans l'ovale et regardez l'écran.",
    processing: "Vérification…",
    passed: "Terminé : la vérification est faite.",
    failed: "La vérification n'a pas abouti.",
    actions: {
      blink: "Clignez des yeux",
      open_mouth: "Ouvrez la bouche",
      turn_left: "Tournez la tête vers votre gauche",
      turn_right: "Tournez la tête vers votre droite",
      nod: "Hochez la tête",
    },
    guidance: {
      too_dark: "Il fait trop sombre : rapprochez-vous de la lumière.",
      no_face: "Aucun visage n'est visible : regardez l'écran, dans l'ovale.",
      several_faces: "Un seul visage doit être visible.",
      move_closer: "Rapprochez-vous de la caméra.",
      hold_still: "Ne bougez plus.",
      ok: "",
    },
    errors: {
      insecure_origin: "La caméra ne peut être utilisée que sur une page sécurisée (https).",
      no_camera: "Aucune caméra n'a été trouvée sur cet appareil.",
      camera_denied: "L'accès à la caméra a été refusé. Autorisez la caméra pour cette page et réessayez.",
      camera_error: "La caméra n'a pas pu démarrer.",
      connection_lost: "La connexion a été perdue. Veuillez recommencer.",
      session_expired: "Cette session a expiré. Veuillez recommencer depuis le début.",
      refused: "La vérification n'a pas pu continuer :",
      missing_session: "Cette page a été ouverte sans session.",
    },
  },
};

export function stringsFor(lang: string | undefined): Strings {
  const base = (lang ?? "en").toLowerCase().split("-")[0];
  return STRINGS[base] ?? STRINGS.en;
}
