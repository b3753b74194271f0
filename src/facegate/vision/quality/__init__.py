"""Face quality: pose, occlusion, position, size, brightness, sharpness, mouth opening."""
